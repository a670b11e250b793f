import { FormEvent, useMemo, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, ApiError, listAll } from '../lib/api';
import type { Framework, MLModel, ValidationError } from '../lib/types';
import { templatesFor, Template } from '../lib/templates';
import CodeEditor from '../components/CodeEditor';
import ModelSummaryView from '../components/ModelSummary';
import { Check, ErrorAlert, Field, Loading, Spinner, useLoad } from '../components/ui';

export interface ModelDraft {
  name: string;
  description: string;
  framework: Framework;
  imports: string;
  code: string;
  distributed: boolean;
  upper_model: number | null;
}

/** Create a model, or change one: the API takes PATCH on a model (it answers 405 to PUT). */
export function saveModel(id: number | null, body: ModelDraft): Promise<MLModel> {
  return id === null ? api.post<MLModel>('/api/v1/models/', body) : api.patch<MLModel>(`/api/v1/models/${id}/`, body);
}

const EMPTY: ModelDraft = {
  name: '',
  description: '',
  framework: 'tensorflow',
  imports: '',
  code: '',
  distributed: false,
  upper_model: null,
};

export default function ModelEdit() {
  const { id } = useParams();
  const editing = id !== undefined;
  const navigate = useNavigate();
  const [draft, setDraft] = useState<ModelDraft>(EMPTY);
  const [saved, setSaved] = useState<MLModel | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const models = useLoad((s) => listAll<MLModel>('/api/v1/models/', s), []);
  const templates = useLoad((s) => api.get<unknown>('/api/v1/models/templates/', s), []);
  const current = useLoad((s) => (editing ? api.get<MLModel>(`/api/v1/models/${id}/`, s) : Promise.resolve(null)), [id]);

  // The form takes each model the API returns (first load, reload): state adjusted while
  // rendering (React re-renders at once), not in an effect after the paint.
  const [adopted, setAdopted] = useState<MLModel | null>(null);
  const m = current.data;
  if (m && m !== adopted) {
    setAdopted(m);
    setDraft({
      name: m.name,
      description: m.description,
      framework: m.framework,
      imports: m.imports,
      code: m.code,
      distributed: m.distributed,
      upper_model: m.upper_model,
    });
    setSaved(m);
  }

  const tpls: Template[] = useMemo(() => templatesFor(templates.data, draft.framework), [templates.data, draft.framework]);

  // A new model starts from the framework's first template.
  const starter = tpls.find((t) => t.code || t.imports);
  if (!editing && !draft.code && !draft.imports && starter) {
    setDraft((d) => ({ ...d, imports: starter.imports, code: starter.code }));
  }

  const set = <K extends keyof ModelDraft>(k: K, v: ModelDraft[K]) => setDraft((d) => ({ ...d, [k]: v }));

  const switchFramework = (fw: Framework) => {
    if (fw === draft.framework) return;
    const next = templatesFor(templates.data, fw);
    const untouched = !draft.code.trim() || tpls.some((t) => t.code === draft.code && t.imports === draft.imports);
    setDraft((d) => ({
      ...d,
      framework: fw,
      upper_model: null,
      ...(untouched && next.length ? { imports: next[0].imports, code: next[0].code } : {}),
    }));
  };

  const applyTemplate = (t: Template) => {
    const dirty = draft.code.trim() && !tpls.some((x) => x.code === draft.code);
    if (dirty && !window.confirm('Replace the code with the template?')) return;
    setDraft((d) => ({ ...d, imports: t.imports, code: t.code }));
  };

  const uppers = (models.data ?? []).filter((m) => m.distributed && m.framework === draft.framework && String(m.id) !== id);

  const validation: ValidationError | null = error instanceof ApiError ? ((error.body.validation as ValidationError) ?? null) : null;
  const failingSection = validation ? (validation.section === 'imports' ? 'imports' : 'code') : null;
  const errLine = validation?.line ?? null;
  const fieldErr = (f: string) => (error instanceof ApiError ? error.field(f) : []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { ...draft, upper_model: draft.distributed ? draft.upper_model : null };
      const m = await saveModel(editing ? Number(id) : null, body);
      setSaved(m);
      // A new model, or an edit the server kept as a new version (its id differs): go to its page.
      if (!editing || String(m.id) !== id) navigate(`/models/${m.id}`, { replace: true, state: { created: !editing } });
    } catch (err) {
      setError(err);
      setSaved(null);
    } finally {
      setBusy(false);
    }
  };

  if (editing && current.loading && !current.data) return <Loading what="the model" />;
  if (editing && current.error) return <ErrorAlert error={current.error} />;

  const generalError = error && !(error instanceof ApiError && (validation || Object.keys(error.errors).length)) ? error : null;

  return (
    <form onSubmit={submit} aria-label="Model">
      <div className="page-head">
        <h1>{editing ? `Model: ${saved?.name ?? draft.name}` : 'New model'}</h1>
        {saved?.version != null && (
          <span
            className="badge"
            data-testid="model-version"
            title="Results keep the code version they trained with: saving changed code of a model that has results adds the next version (same model)."
          >
            v{saved.version}
          </span>
        )}
        <span className="spacer" />
        <Link className="btn" to="/models">
          Back to models
        </Link>
        <button type="submit" className="btn primary" disabled={busy}>
          {busy && <Spinner />} {busy ? 'Validating…' : editing ? 'Validate and save' : 'Validate and create'}
        </button>
      </div>
      <ErrorAlert error={generalError} />
      {validation && (
        <div className="alert error" role="alert" data-testid="validation-error">
          <strong>The model does not build.</strong> {validation.type}: {validation.message}
          {errLine ? (
            <>
              {' '}
              — {failingSection} line {errLine}
            </>
          ) : null}
          {validation.source_line && <pre className="log">{`${errLine ?? ''} | ${validation.source_line}`}</pre>}
          {validation.trace && validation.trace.length > 1 && (
            <details>
              <summary className="small">Trace ({validation.trace.length} frames)</summary>
              <pre className="log">
                {validation.trace
                  .map((f) => `${f.section ?? ''} line ${f.line ?? '?'} in ${f.function ?? '?'}: ${f.source_line ?? ''}`)
                  .join('\n')}
              </pre>
            </details>
          )}
          {validation.traceback && <pre className="log">{validation.traceback}</pre>}
        </div>
      )}
      <div className="grid two" style={{ alignItems: 'start' }}>
        <div className="card">
          <div className="row">
            <Field label="Name" htmlFor="m-name" errors={fieldErr('name')}>
              <input id="m-name" type="text" value={draft.name} onChange={(e) => set('name', e.target.value)} required maxLength={100} />
            </Field>
            <Field label="Framework">
              <div className="segmented" role="radiogroup" aria-label="Framework">
                {(['tensorflow', 'pytorch'] as Framework[]).map((fw) => (
                  <button
                    key={fw}
                    type="button"
                    role="radio"
                    aria-checked={draft.framework === fw}
                    className={draft.framework === fw ? 'on' : ''}
                    onClick={() => switchFramework(fw)}
                  >
                    {fw === 'tensorflow' ? 'TensorFlow / Keras' : 'PyTorch / Ignite'}
                  </button>
                ))}
              </div>
            </Field>
          </div>
          <Field label="Description" htmlFor="m-desc" errors={fieldErr('description')}>
            <input id="m-desc" type="text" value={draft.description} onChange={(e) => set('description', e.target.value)} />
          </Field>
          <Check
            id="m-distributed"
            label="Distributed (early-exit chain)"
            checked={draft.distributed}
            onChange={(v) => set('distributed', v)}
            hint="A distributed sub-model returns (to_upper, output); records it is unsure about go on to its upper model."
          />
          {draft.distributed && (
            <Field
              label="Upper model"
              htmlFor="m-upper"
              errors={fieldErr('upper_model')}
              hint={
                uppers.length
                  ? 'The model that receives what this one sends up. Leave empty for the top of the chain.'
                  : 'No other distributed model of this framework yet: this one is the top of its chain.'
              }
            >
              <select
                id="m-upper"
                value={draft.upper_model ?? ''}
                onChange={(e) => set('upper_model', e.target.value ? Number(e.target.value) : null)}
              >
                <option value="">— none (top of the chain) —</option>
                {uppers.map((m) => (
                  <option key={m.id} value={m.id}>
                    {m.name}
                  </option>
                ))}
              </select>
            </Field>
          )}
          <div className="field">
            <span className="label">Templates</span>
            {templates.loading ? (
              <span className="muted small">
                <Spinner /> loading templates…
              </span>
            ) : tpls.length ? (
              <div className="actions">
                {tpls.map((t) => (
                  <button key={t.name} type="button" className="btn small" onClick={() => applyTemplate(t)} title={t.description}>
                    Use “{t.name}”
                  </button>
                ))}
              </div>
            ) : (
              <span className="muted small">
                {templates.error ? 'Templates are unavailable right now.' : 'No template for this framework.'}
              </span>
            )}
          </div>
        </div>
        <div className="card" aria-live="polite">
          <h2>Validation</h2>
          {busy ? (
            <div className="loading">
              <Spinner /> The executor is building the model…
            </div>
          ) : saved && !error ? (
            <>
              <div className="alert ok" data-testid="validation-ok">
                Valid: the model builds.{' '}
                {saved.configurations.length ? '' : <Link to={`/configurations?model=${saved.id}`}>Put it in a configuration →</Link>}
              </div>
              <ModelSummaryView model={saved} />
            </>
          ) : error ? (
            <p className="muted">Fix the error and save again.</p>
          ) : (
            <p className="muted">
              Saving sends the code to the executor, which builds the model and reports its layers, shapes and parameters here.
            </p>
          )}
        </div>
      </div>
      <div className="card">
        <Field label="Imports" errors={fieldErr('imports')} hint="Run once before the code (e.g. import tensorflow as tf).">
          <CodeEditor
            value={draft.imports}
            onChange={(v) => set('imports', v)}
            errorLine={failingSection === 'imports' ? errLine : null}
            minHeight={60}
            ariaLabel="Imports"
          />
        </Field>
        <Field label="Model code" errors={fieldErr('code')} hint="Must define the model (see the template for the expected shape).">
          <CodeEditor
            value={draft.code}
            onChange={(v) => set('code', v)}
            errorLine={failingSection === 'code' ? errLine : null}
            minHeight={260}
            ariaLabel="Model code"
          />
        </Field>
      </div>
    </form>
  );
}
