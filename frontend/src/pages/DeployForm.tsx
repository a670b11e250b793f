import { FormEvent, useMemo, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { api, ApiError, listAll } from '../lib/api';
import type { Configuration, Datasource, Deployment, MLModel } from '../lib/types';
import { kwargsPayload, kwargsProblem } from '../lib/snippets';
import { Check, ErrorAlert, Field, Loading, Spinner, useLoad } from '../components/ui';

export interface DeployDraft {
  batch_size: string;
  training_kwargs: string;
  evaluation_kwargs: string;
  optimizer: string;
  learning_rate: string;
  loss: string;
  metrics: string;
  confusion_matrix: boolean;
  gpus: string;
  incremental: boolean;
  stream_timeout: string;
  monitored_metric: string;
  improvement: string;
  window_size: string;
  incremental_mode: 'indefinite' | 'time_limited';
  change: 'auto' | 'up' | 'down';
  unsupervised_rounds: string;
  confidence_threshold: string;
  datasource: string;
}

export const DEFAULT_DEPLOY: DeployDraft = {
  batch_size: '32',
  training_kwargs: 'epochs=5',
  evaluation_kwargs: '',
  optimizer: 'adam',
  learning_rate: '0.001',
  loss: 'sparse_categorical_crossentropy',
  metrics: 'accuracy',
  confusion_matrix: true,
  gpus: '0',
  incremental: false,
  stream_timeout: '60',
  monitored_metric: 'val_loss',
  improvement: '0',
  window_size: '1000',
  datasource: '',
  incremental_mode: 'indefinite',
  change: 'auto',
  unsupervised_rounds: '0',
  confidence_threshold: '0.9',
};

/** The models a configuration trains: its models and, for a chain, every model above them. */
export function trainedModels(configuration: Configuration, models: MLModel[]): MLModel[] {
  const byId = new Map(models.map((m) => [m.id, m]));
  const out: MLModel[] = [];
  for (const id of configuration.models) {
    let m = byId.get(id);
    while (m && !out.includes(m)) {
      out.push(m);
      m = m.distributed && m.upper_model != null ? byId.get(m.upper_model) : undefined;
    }
  }
  return out;
}

/** Whether training reads optimizer, learning rate, loss and metrics (as the API decides): only
 *  to compile a Keras model its code does not compile, and for a Keras chain. PyTorch models
 *  bring their own optimizer(), loss_fn() and metrics(). */
export function compileSettingsApply(trained: MLModel[]): boolean {
  return trained.some(
    (m) => m.framework === 'tensorflow' && (m.distributed || (m.summary as { compiled?: unknown } | undefined)?.compiled !== true),
  );
}

/** The loss the models compile themselves with, when the summary names one. */
function ownLoss(trained: MLModel[]): string | null {
  for (const m of trained) {
    const loss = (m.summary as { loss?: unknown } | undefined)?.loss;
    if (typeof loss === 'string' && loss) return loss;
  }
  return null;
}

/** Checks the form can make before asking the API; keys are API field names. */
export function localProblems(d: DeployDraft, compileApplies = true): Record<string, string> {
  const p: Record<string, string> = {};
  const int = (k: keyof DeployDraft, min: number, max: number, label: string) => {
    const v = Number(d[k]);
    if (String(d[k]).trim() === '' || !Number.isInteger(v) || v < min || v > max)
      p[k] = `${label} must be a whole number from ${min} to ${max.toLocaleString()}.`;
  };
  int('batch_size', 1, 1_000_000, 'Batch size');
  int('gpus', 0, 16, 'GPUs');
  const lr = Number(d.learning_rate);
  if (compileApplies && (d.learning_rate.trim() === '' || !Number.isFinite(lr) || lr < 0 || lr > 10))
    p.learning_rate = 'Learning rate must be a number from 0 to 10.';
  for (const k of ['training_kwargs', 'evaluation_kwargs'] as const) {
    const problem = kwargsProblem(d[k]);
    if (problem) p[k] = problem;
  }
  int('unsupervised_rounds', 0, 100, 'Pseudo-labelling rounds');
  const ct = Number(d.confidence_threshold);
  if (Number(d.unsupervised_rounds) > 0 && (d.confidence_threshold.trim() === '' || !Number.isFinite(ct) || ct < 0 || ct > 1))
    p.confidence_threshold = 'Confidence threshold must be a number from 0 to 1.';
  if (d.incremental) {
    const st = Number(d.stream_timeout);
    if (Number.isInteger(st) && (st > 86400 || (st >= 10_000 && st % 1000 === 0)))
      p.stream_timeout = `Stream timeout is in seconds; ${st} looks like milliseconds.`;
    else int('stream_timeout', 1, 86400, 'Stream timeout');
    int('window_size', 1, 10_000_000, 'Window size');
    const imp = Number(d.improvement);
    if (!Number.isFinite(imp) || imp < 0) p.improvement = 'Improvement must be a number ≥ 0.';
  }
  return p;
}

/** The API body; optimizer, learning rate, loss and metrics only when training uses them
 *  (the API refuses them otherwise). */
export function deployPayload(configuration: number, d: DeployDraft, compileApplies = true): Record<string, unknown> {
  const body: Record<string, unknown> = {
    configuration,
    batch_size: Number(d.batch_size),
    training_kwargs: kwargsPayload(d.training_kwargs),
    evaluation_kwargs: kwargsPayload(d.evaluation_kwargs),
    ...(compileApplies
      ? { optimizer: d.optimizer.trim(), learning_rate: Number(d.learning_rate), loss: d.loss.trim(), metrics: d.metrics.trim() }
      : {}),
    confusion_matrix: d.confusion_matrix,
    gpus: Number(d.gpus),
    incremental: d.incremental,
    datasource: d.datasource ? Number(d.datasource) : null,
  };
  if (d.incremental) {
    body.stream_timeout = Number(d.stream_timeout);
    body.monitored_metric = d.monitored_metric.trim();
    body.improvement = Number(d.improvement);
    body.window_size = Number(d.window_size);
    if (d.incremental_mode !== 'indefinite') body.incremental_mode = d.incremental_mode;
    if (d.change !== 'auto') body.change = d.change;
  }
  if (Number(d.unsupervised_rounds) > 0) {
    body.unsupervised_rounds = Number(d.unsupervised_rounds);
    body.confidence_threshold = Number(d.confidence_threshold);
  }
  return body;
}

const KERAS_OPTIMIZERS = ['adam', 'adamw', 'sgd', 'rmsprop', 'adagrad', 'adadelta', 'adamax', 'nadam', 'ftrl', 'lion'];
const KERAS_LOSSES = [
  'sparse_categorical_crossentropy',
  'categorical_crossentropy',
  'binary_crossentropy',
  'mse',
  'mae',
  'huber',
  'hinge',
  'kl_divergence',
];

export function isClassificationLoss(loss: string): boolean {
  return /crossentropy|cross_entropy|nll|hinge|categorical/i.test(loss);
}

export function DeployFormView({
  configuration,
  models,
  datasources,
  onSubmit,
  initialDatasource,
}: {
  configuration: Configuration;
  models: MLModel[];
  datasources: Datasource[];
  onSubmit: (body: Record<string, unknown>) => Promise<void>;
  initialDatasource?: string;
}) {
  const distributed = models.filter((m) => configuration.models.includes(m.id) && m.distributed);
  const trained = trainedModels(configuration, models);
  const applies = compileSettingsApply(trained);
  const frameworks = new Set(trained.map((m) => m.framework));
  const [d, setD] = useState<DeployDraft>(() => ({ ...DEFAULT_DEPLOY, datasource: initialDatasource ?? '' }));
  // The loss training uses: the form's, or the one the model's own code compiles with.
  const effectiveLoss = applies ? d.loss : ownLoss(trained);
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const problems = useMemo(() => localProblems(d, applies), [d, applies]);
  const set = <K extends keyof DeployDraft>(k: K, v: DeployDraft[K]) => setD((x) => ({ ...x, [k]: v }));

  const fe = (f: string): string[] => {
    const out: string[] = [];
    if (touched && problems[f]) out.push(problems[f]);
    if (error instanceof ApiError) out.push(...error.field(f));
    return out;
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    setError(null);
    if (Object.keys(problems).length) return;
    setBusy(true);
    try {
      await onSubmit(deployPayload(configuration.id, d, applies));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const knownFields = [
    'batch_size',
    'training_kwargs',
    'evaluation_kwargs',
    'optimizer',
    'learning_rate',
    'loss',
    'metrics',
    'gpus',
    'stream_timeout',
    'monitored_metric',
    'improvement',
    'window_size',
    'incremental_mode',
    'change',
    'unsupervised_rounds',
    'confidence_threshold',
    'datasource',
    'confusion_matrix',
    'incremental',
  ];
  const unplaced =
    error instanceof ApiError ? Object.keys(error.errors).filter((k) => !knownFields.some((f) => k === f || k.startsWith(f + '.'))) : [];
  const showGeneral = error && (!(error instanceof ApiError) || unplaced.length || !Object.keys(error.errors).length);

  const reusable = datasources.filter((s) => !s.incremental || d.incremental);

  return (
    <form onSubmit={submit} aria-label="Deploy for training" noValidate>
      {showGeneral ? (
        <ErrorAlert error={error} />
      ) : error ? (
        <div className="alert error" role="alert">
          Some fields need attention (marked below).
        </div>
      ) : null}
      <div className="grid two" style={{ alignItems: 'start' }}>
        <div className="card">
          <h2>Training</h2>
          <div className="row">
            <Field label="Batch size" htmlFor="d-batch" errors={fe('batch_size')} hint="Samples per gradient step.">
              <input id="d-batch" type="number" min={1} value={d.batch_size} onChange={(e) => set('batch_size', e.target.value)} />
            </Field>
            {applies && (
              <>
                <Field label="Optimizer" htmlFor="d-opt" errors={fe('optimizer')} hint="A Keras optimizer, e.g. adam, sgd, rmsprop">
                  <input
                    id="d-opt"
                    type="text"
                    list="keras-optimizers"
                    value={d.optimizer}
                    onChange={(e) => set('optimizer', e.target.value)}
                  />
                </Field>
                <Field label="Learning rate" htmlFor="d-lr" errors={fe('learning_rate')}>
                  <input
                    id="d-lr"
                    type="number"
                    step="any"
                    min={0}
                    value={d.learning_rate}
                    onChange={(e) => set('learning_rate', e.target.value)}
                  />
                </Field>
              </>
            )}
          </div>
          {applies ? (
            <div className="row">
              <Field label="Loss" htmlFor="d-loss" errors={fe('loss')} hint="A Keras loss, e.g. sparse_categorical_crossentropy, mse">
                <input id="d-loss" type="text" list="keras-losses" value={d.loss} onChange={(e) => set('loss', e.target.value)} />
              </Field>
              <Field label="Metrics" htmlFor="d-metrics" errors={fe('metrics')} hint="Comma-separated Keras metrics, e.g. accuracy">
                <input id="d-metrics" type="text" value={d.metrics} onChange={(e) => set('metrics', e.target.value)} />
              </Field>
              <datalist id="keras-optimizers">
                {KERAS_OPTIMIZERS.map((o) => (
                  <option key={o} value={o} />
                ))}
              </datalist>
              <datalist id="keras-losses">
                {KERAS_LOSSES.map((o) => (
                  <option key={o} value={o} />
                ))}
              </datalist>
            </div>
          ) : (
            <p className="small muted" data-testid="compile-from-code">
              Optimizer, learning rate, loss and metrics come from the model&apos;s code
              {frameworks.has('pytorch') ? (
                <>
                  {' '}
                  (PyTorch: its <code>optimizer()</code>, <code>loss_fn()</code> and <code>metrics()</code>)
                </>
              ) : null}
              {frameworks.has('tensorflow') ? (
                <>
                  {' '}
                  (Keras: its <code>model.compile(…)</code>)
                </>
              ) : null}
              .
            </p>
          )}
          <Field
            label="Fit arguments"
            htmlFor="d-fit"
            errors={fe('training_kwargs')}
            hint={
              <>
                Passed to training, as <code>epochs=5, shuffle=True</code> or JSON <code>{'{"epochs": 5}'}</code>. Literals only.
              </>
            }
          >
            <textarea id="d-fit" value={d.training_kwargs} onChange={(e) => set('training_kwargs', e.target.value)} rows={2} />
          </Field>
          <Field
            label="Evaluation arguments"
            htmlFor="d-eval"
            errors={fe('evaluation_kwargs')}
            hint={
              <>
                Passed to evaluation on the test split, e.g. <code>batch_size=64</code>. Optional.
              </>
            }
          >
            <textarea id="d-eval" value={d.evaluation_kwargs} onChange={(e) => set('evaluation_kwargs', e.target.value)} rows={2} />
          </Field>
          {(effectiveLoss === null || isClassificationLoss(effectiveLoss)) && (
            <Check
              id="d-cm"
              label="Compute a confusion matrix"
              checked={d.confusion_matrix}
              onChange={(v) => set('confusion_matrix', v)}
              hint="On the test split (send data with a test rate above 0)."
            />
          )}
        </div>
        <div>
          <div className="card">
            <h2>Data</h2>
            <Field
              label="Training data"
              htmlFor="d-ds"
              errors={fe('datasource')}
              hint={
                d.datasource
                  ? 'Training starts at once on the data of this datasource (still in the broker).'
                  : 'Send data after deploying; the results page shows how.'
              }
            >
              <select id="d-ds" value={d.datasource} onChange={(e) => set('datasource', e.target.value)}>
                <option value="">Send new data after deploying</option>
                {reusable.map((s) => (
                  <option key={s.id} value={s.id}>
                    Re-use datasource #{s.id}: {s.description || s.topic.split(':')[0]} ({s.total_msg ?? '∞'} records, {s.input_format})
                  </option>
                ))}
              </select>
            </Field>
            <Check
              id="d-incr"
              label="Incremental training"
              checked={d.incremental}
              onChange={(v) => set('incremental', v)}
              hint="Train on an unbounded stream in windows; a new model version is kept when the monitored metric improves."
            />
            {d.incremental && (
              <div className="row">
                <Field label="Window size" htmlFor="d-win" errors={fe('window_size')} hint="Records per training window.">
                  <input id="d-win" type="number" min={1} value={d.window_size} onChange={(e) => set('window_size', e.target.value)} />
                </Field>
                <Field
                  label="Stream timeout (s)"
                  htmlFor="d-timeout"
                  errors={fe('stream_timeout')}
                  hint="Stop after this long without records."
                >
                  <input
                    id="d-timeout"
                    type="number"
                    min={1}
                    value={d.stream_timeout}
                    onChange={(e) => set('stream_timeout', e.target.value)}
                  />
                </Field>
                <Field label="Monitored metric" htmlFor="d-mon" errors={fe('monitored_metric')}>
                  <input id="d-mon" type="text" value={d.monitored_metric} onChange={(e) => set('monitored_metric', e.target.value)} />
                </Field>
                <Field label="Minimum improvement" htmlFor="d-imp" errors={fe('improvement')}>
                  <input
                    id="d-imp"
                    type="number"
                    step="any"
                    min={0}
                    value={d.improvement}
                    onChange={(e) => set('improvement', e.target.value)}
                  />
                </Field>
                <Field
                  label="Mode"
                  htmlFor="d-mode"
                  errors={fe('incremental_mode')}
                  hint="Time-limited: the run finishes after the stream timeout without records."
                >
                  <select
                    id="d-mode"
                    value={d.incremental_mode}
                    onChange={(e) => set('incremental_mode', e.target.value as DeployDraft['incremental_mode'])}
                  >
                    <option value="indefinite">Indefinite (until stopped)</option>
                    <option value="time_limited">Time-limited</option>
                  </select>
                </Field>
                <Field label="Metric improves" htmlFor="d-change" errors={fe('change')}>
                  <select id="d-change" value={d.change} onChange={(e) => set('change', e.target.value as DeployDraft['change'])}>
                    <option value="auto">Auto (down for losses)</option>
                    <option value="up">Up</option>
                    <option value="down">Down</option>
                  </select>
                </Field>
              </div>
            )}
            <div className="row">
              <Field
                label="Pseudo-labelling rounds"
                htmlFor="d-rounds"
                errors={fe('unsupervised_rounds')}
                hint="Semi-supervised: rounds over the unlabelled samples sent with unsupervised_send (0: none)."
              >
                <input
                  id="d-rounds"
                  type="number"
                  min={0}
                  max={100}
                  value={d.unsupervised_rounds}
                  onChange={(e) => set('unsupervised_rounds', e.target.value)}
                />
              </Field>
              {Number(d.unsupervised_rounds) > 0 && (
                <Field label="Confidence threshold" htmlFor="d-conf" errors={fe('confidence_threshold')} hint="For example: 0.9">
                  <input
                    id="d-conf"
                    type="number"
                    step="any"
                    min={0}
                    max={1}
                    value={d.confidence_threshold}
                    onChange={(e) => set('confidence_threshold', e.target.value)}
                  />
                </Field>
              )}
            </div>
          </div>
          <div className="card">
            <h2>Resources</h2>
            <Field
              label="GPUs"
              htmlFor="d-gpus"
              errors={fe('gpus')}
              hint="0 trains on CPU. GPUs are used where the cluster has them (Kubernetes); the local launcher ignores this."
            >
              <input id="d-gpus" type="number" min={0} max={16} value={d.gpus} onChange={(e) => set('gpus', e.target.value)} />
            </Field>
            {distributed.length > 0 && (
              <div className="alert info">
                Distributed chain: {distributed.map((m) => m.name).join(', ')} train together as one job (one result per sub-model); the
                edge model reads the stream.
              </div>
            )}
          </div>
        </div>
      </div>
      <div className="actions">
        <button type="submit" className="btn primary" disabled={busy}>
          {busy && <Spinner />} Deploy
        </button>
        {touched && Object.keys(problems).length > 0 && <span className="error-text">Fix the marked fields first.</span>}
      </div>
    </form>
  );
}

export default function DeployForm() {
  const { id } = useParams();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const conf = useLoad((s) => api.get<Configuration>(`/api/v1/configurations/${id}/`, s), [id]);
  const models = useLoad((s) => listAll<MLModel>('/api/v1/models/', s), []);
  const sources = useLoad((s) => listAll<Datasource>('/api/v1/datasources/', s), []);
  if ((conf.loading && !conf.data) || (models.loading && !models.data)) return <Loading what="the configuration" />;
  if (!conf.data) return <ErrorAlert error={conf.error} />;
  return (
    <>
      <div className="page-head">
        <h1>Deploy “{conf.data.name}” for training</h1>
        <span className="spacer" />
        <Link className="btn" to={`/configurations/${id}`}>
          Cancel
        </Link>
      </div>
      <DeployFormView
        configuration={conf.data}
        models={models.data ?? []}
        datasources={sources.data ?? []}
        initialDatasource={params.get('datasource') ?? undefined}
        onSubmit={async (body) => {
          const dep = await api.post<Deployment>('/api/v1/deployments/', body);
          navigate(`/deployments/${dep.id}`);
        }}
      />
    </>
  );
}
