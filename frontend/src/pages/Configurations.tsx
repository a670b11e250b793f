import { FormEvent, useMemo, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { api, ApiError, listAll } from '../lib/api';
import type { Configuration, MLModel } from '../lib/types';
import { pickItems } from '../lib/chains';
import { ActionButton, Empty, ErrorAlert, Field, Loading, Spinner, fmtDate, useLoad } from '../components/ui';

export function ConfigurationForm({
  models,
  initial,
  onCreated,
}: {
  models: MLModel[];
  initial?: number[];
  onCreated: (c: Configuration) => void;
}) {
  const items = useMemo(() => pickItems(models), [models]);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [picked, setPicked] = useState<Set<number>>(() => {
    const init = new Set<number>();
    for (const id of initial ?? []) {
      const item = items.find((it) => it.members.some((m) => m.id === id));
      if (item) init.add(item.id);
    }
    return init;
  });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const toggle = (id: number) =>
    setPicked((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (!picked.size) {
      setError(new ApiError(400, { detail: 'Pick at least one model.', errors: { models: ['Pick at least one model.'] } }));
      return;
    }
    setBusy(true);
    try {
      const c = await api.post<Configuration>('/api/v1/configurations/', { name, description, models: [...picked] });
      setName('');
      setDescription('');
      setPicked(new Set());
      onCreated(c);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fe = (f: string) => (error instanceof ApiError ? error.field(f) : []);
  return (
    <form className="card" onSubmit={submit} aria-label="New configuration">
      <h2>New configuration</h2>
      {error instanceof ApiError && !Object.keys(error.errors).length ? (
        <ErrorAlert error={error} />
      ) : (
        !(error instanceof ApiError) && <ErrorAlert error={error} />
      )}
      <div className="row">
        <Field label="Name" htmlFor="c-name" errors={fe('name')}>
          <input id="c-name" type="text" value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
        </Field>
        <Field label="Description" htmlFor="c-desc" errors={fe('description')}>
          <input id="c-desc" type="text" value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
      </div>
      <Field
        label="Models"
        errors={fe('models')}
        hint="Every model in a configuration trains on the same data stream. A distributed chain is trained as one item."
      >
        {items.length ? (
          <div className="bars" role="group" aria-label="Models">
            {items.map((it) => (
              <label key={it.id} className="check" style={{ marginBottom: 0 }}>
                <input type="checkbox" checked={picked.has(it.id)} onChange={() => toggle(it.id)} />
                <span>
                  {it.label} <span className="muted small">({it.framework === 'pytorch' ? 'PyTorch' : 'TensorFlow'})</span>
                </span>
              </label>
            ))}
          </div>
        ) : (
          <span className="muted">
            No model yet. <Link to="/models/new">Create one</Link> first.
          </span>
        )}
      </Field>
      <button type="submit" className="btn primary" disabled={busy || !items.length}>
        {busy && <Spinner />} Create configuration
      </button>
    </form>
  );
}

export default function Configurations() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const preset = params.get('model');
  const configs = useLoad((s) => listAll<Configuration>('/api/v1/configurations/', s), []);
  const models = useLoad((s) => listAll<MLModel>('/api/v1/models/', s), []);
  return (
    <>
      <div className="page-head">
        <h1>Configurations</h1>
        <span className="sub">Groups of models trained together on one stream.</span>
      </div>
      <ErrorAlert error={configs.error || models.error} />
      {models.data ? (
        models.data.length ? (
          <ConfigurationForm
            models={models.data}
            initial={preset ? [Number(preset)] : undefined}
            onCreated={(c) => navigate(`/configurations/${c.id}`)}
          />
        ) : (
          <Empty
            title="No models yet"
            actions={
              <Link className="btn primary" to="/models/new">
                Create a model
              </Link>
            }
          >
            A configuration groups models: create a model first.
          </Empty>
        )
      ) : (
        models.loading && <Loading what="models" />
      )}
      {configs.loading && !configs.data ? (
        <Loading what="configurations" />
      ) : configs.data && configs.data.length === 0 ? (
        models.data?.length ? (
          <Empty title="No configurations yet">Pick models above and create one; then deploy it for training.</Empty>
        ) : null
      ) : configs.data ? (
        <div className="card table-wrap">
          <table className="list">
            <thead>
              <tr>
                <th>Name</th>
                <th>Models</th>
                <th className="hide-sm">Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {configs.data.map((c) => (
                <tr key={c.id}>
                  <td>
                    <Link to={`/configurations/${c.id}`}>{c.name}</Link>
                    {c.description && <div className="muted small">{c.description}</div>}
                  </td>
                  <td>{c.model_names.join(', ')}</td>
                  <td className="hide-sm muted">{fmtDate(c.created_at)}</td>
                  <td className="cell-actions">
                    <div className="actions end">
                      <Link className="btn small primary" to={`/configurations/${c.id}/deploy`}>
                        Deploy
                      </Link>
                      <ActionButton
                        className="btn small danger"
                        disabled={!c.deletable}
                        title={c.deletable ? 'Delete' : 'In use: it has deployments. Delete its deployments first.'}
                        confirm={`Delete the configuration “${c.name}”?`}
                        onClick={async () => {
                          await api.del(`/api/v1/configurations/${c.id}/`);
                          await configs.reload(true);
                        }}
                      >
                        Delete
                      </ActionButton>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
