import { useCallback, useMemo, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api } from '../lib/api';
import type { EpochMetrics, PseudoLabellingRound, TrainingResult } from '../lib/types';
import { useSocket } from '../lib/socket';
import { confusion, epochCharts, mergeEpoch } from '../lib/metrics';
import LineChart from '../components/LineChart';
import Heatmap from '../components/Heatmap';
import SendData from '../components/SendData';
import Provenance from '../components/Provenance';
import RunAnnotations from '../components/RunAnnotations';
import FederationSummary from '../components/FederationSummary';
import NotFound from '../components/NotFound';
import { DeployChainLink } from './ChainInferenceForm';
import { ActionButton, LiveDot, Loading, StatusBadge, fmtDate, fmtNum, useInterval, useLoad } from '../components/ui';

const FINAL = new Set(['finished', 'failed', 'stopped']);

/** The status a user reads: a deployed result that reports epochs is training. */
export function shownStatus(r: Pick<TrainingResult, 'status' | 'epoch_metrics'>): string {
  return r.status === 'deployed' && (r.epoch_metrics?.length ?? 0) > 0 ? 'training' : r.status;
}

/** The epochs training was asked for (the API's `planned_epochs`), when known. */
export function plannedEpochsOf(r: TrainingResult): number | null {
  const planned = (r as TrainingResult & { planned_epochs?: number | null }).planned_epochs;
  return typeof planned === 'number' && planned > 0 ? planned : null;
}

/** A federated run reports each round like an epoch, with `round` and `rounds` among its
 * metrics: "Round k / N" of the latest report, or null for an ordinary run. */
export function federatedRoundOf(r: Pick<TrainingResult, 'epoch_metrics'>): string | null {
  const reports = r.epoch_metrics ?? [];
  const last = reports[reports.length - 1];
  const round = last?.metrics?.round;
  const rounds = last?.metrics?.rounds;
  if (typeof round !== 'number' || typeof rounds !== 'number') return null;
  return `Round ${round} / ${rounds}`;
}

/** What the final-metrics and confusion-matrix cards say when they have nothing to show. */
export function missingFinalText(status: string, what: 'metrics' | 'confusion'): string {
  if (status === 'stopped')
    return what === 'metrics' ? 'Stopped before the end; no final metrics.' : 'Stopped before the end; no confusion matrix.';
  if (status === 'failed') return what === 'metrics' ? 'Training failed; no final metrics.' : 'Training failed; no confusion matrix.';
  if (!FINAL.has(status))
    return what === 'metrics' ? 'Final metrics appear when training finishes.' : 'Computed on the test split at the end.';
  return what === 'metrics' ? 'No final metrics were reported.' : 'Not computed (enable it on deployment and send a test split).';
}

function MetricsTable({ r }: { r: TrainingResult }) {
  const sets = [
    ['train', r.train_metrics],
    ['validation', r.val_metrics],
    ['test', r.test_metrics],
  ] as const;
  const names = [...new Set(sets.flatMap(([, m]) => Object.keys(m ?? {})))];
  if (!names.length)
    return (
      <p className="muted" data-testid="no-final-metrics">
        {missingFinalText(r.status, 'metrics')}
      </p>
    );
  return (
    <table className="list" data-testid="final-metrics">
      <thead>
        <tr>
          <th>Metric</th>
          {sets.map(([n]) => (
            <th key={n} className="num">
              {n}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {names.map((k) => (
          <tr key={k}>
            <td>{k}</td>
            {sets.map(([n, m]) => (
              <td key={n} className="num">
                {fmtNum((m ?? {})[k])}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Downloads beyond native/ONNX that the latest artifact has (its metadata's `files`). */
const EXTRA_DOWNLOADS: [kind: string, label: string][] = [
  ['h5', 'Keras .h5'],
  ['state_dict', 'PyTorch state_dict'],
  ['tflite', 'TensorFlow Lite (float)'],
  ['tflite_int8', 'TensorFlow Lite (int8)'],
];

export function extraDownloads(metadata: Record<string, unknown> | undefined): [string, string][] {
  const files = (metadata?.files ?? {}) as Record<string, unknown>;
  return EXTRA_DOWNLOADS.filter(([kind]) => typeof files[kind] === 'string');
}

type LiteEntry = { test_accuracy?: number | null; bytes?: number; error?: string; evaluation_error?: string };

/** The TensorFlow Lite conversions of the latest artifact: accuracy on the test split or why not. */
export function tfliteRows(
  metadata: Record<string, unknown> | undefined,
): { label: string; accuracy: number | null; size: number | null; error: string }[] {
  const lite = metadata?.tflite as Record<string, LiteEntry> | undefined;
  if (!lite || typeof lite !== 'object') return [];
  return (
    [
      ['tflite', 'TFLite float'],
      ['tflite_int8', 'TFLite int8'],
    ] as const
  )
    .filter(([kind]) => lite[kind])
    .map(([kind, label]) => {
      const e = lite[kind];
      return {
        label,
        accuracy: typeof e.test_accuracy === 'number' ? e.test_accuracy : null,
        size: e.bytes ?? null,
        error: e.error || e.evaluation_error || '',
      };
    });
}

function TfliteTable({ r, metadata }: { r: TrainingResult; metadata: Record<string, unknown> | undefined }) {
  const rows = tfliteRows(metadata);
  if (!rows.length) return null;
  const own = (r.test_metrics ?? {}).accuracy;
  return (
    <table className="list" data-testid="tflite-accuracy" style={{ marginTop: 12 }}>
      <thead>
        <tr>
          <th>TinyML export</th>
          <th className="num">test accuracy</th>
          <th className="num">size</th>
        </tr>
      </thead>
      <tbody>
        <tr>
          <td>{r.framework === 'pytorch' ? 'PyTorch' : 'Keras'} (float)</td>
          <td className="num">{fmtNum(own)}</td>
          <td className="num">—</td>
        </tr>
        {rows.map((row) => (
          <tr key={row.label}>
            <td>{row.label}</td>
            <td className="num" title={row.error}>
              {row.error && row.accuracy == null ? 'failed' : fmtNum(row.accuracy)}
            </td>
            <td className="num">{row.size != null ? `${(row.size / 1024).toFixed(1)} KiB` : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Semi-supervised rounds: per round the samples pseudo-labelled and the accuracy after it. */
export function PseudoLabellingTable({ rounds }: { rounds: PseudoLabellingRound[] | undefined }) {
  if (!rounds?.length) return null;
  return (
    <div className="card" data-testid="pseudo-labelling">
      <h2>Pseudo-labelling rounds</h2>
      <table className="list">
        <thead>
          <tr>
            <th className="num">round</th>
            <th className="num">samples pseudo-labelled</th>
            <th className="num">accuracy after the round</th>
          </tr>
        </thead>
        <tbody>
          {rounds.map((r) => (
            <tr key={r.round}>
              <td className="num">{r.round}</td>
              <td className="num">{r.pseudo_labelled}</td>
              <td className="num" title={r.pseudo_labelled ? undefined : 'no sample was confident enough: rounds stopped'}>
                {r.accuracy != null ? fmtNum(r.accuracy) : '—'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function ResultDetail() {
  const { id } = useParams();
  const navigate = useNavigate();
  const res = useLoad((s) => api.get<TrainingResult>(`/api/v1/results/${id}/`, s), [id]);
  const [logs, setLogs] = useState<string | null>(null);
  const r = res.data;
  // No socket before the result has loaded: a result that does not exist (404) opens none.
  const live = r ? !FINAL.has(r.status) : false;

  const onMessage = useCallback(
    (msg: { event: string; data: unknown }) => {
      const data = msg.data as Record<string, unknown>;
      if (msg.event === 'snapshot') res.setData(data as unknown as TrainingResult);
      else if (msg.event === 'epoch')
        res.setData((cur) => (cur ? { ...cur, epoch_metrics: mergeEpoch(cur.epoch_metrics ?? [], data as EpochMetrics) } : cur));
      else if (msg.event === 'status') {
        res.setData((cur) => (cur ? { ...cur, ...(data as Partial<TrainingResult>) } : cur));
        if (typeof data.status === 'string' && FINAL.has(data.status)) res.reload(true);
      } else if (msg.event === 'artifact') res.reload(true);
    },
    [res],
  );
  const socket = useSocket(live ? `/ws/results/${id}/` : null, onMessage);
  // Without live updates (the socket cannot connect), poll so progress still shows.
  useInterval(() => res.reload(true), 3000, live && (socket === 'failing' || socket === 'denied'));

  const charts = useMemo(() => epochCharts(r?.epoch_metrics ?? []), [r?.epoch_metrics]);
  if (res.loading && !r) return <Loading what="the result" />;
  if (!r) return <NotFound error={res.error} what={`Result #${id}`} back="/deployments" backLabel="Back to deployments" />;
  const cm = confusion(r.confusion_matrix);
  const hasModel = r.artifacts?.length > 0;
  const latest = hasModel ? Math.max(...r.artifacts.map((a) => a.version)) : null;
  const latestArtifact = hasModel ? r.artifacts.find((a) => a.version === latest) : undefined;
  const epochsDone = r.epoch_metrics?.length ?? 0;
  const plannedEpochs = plannedEpochsOf(r);
  const status = shownStatus(r);

  const loadLogs = async () => {
    const out = await api.get<{ logs: string }>(`/api/v1/results/${r.id}/logs/`);
    setLogs(out.logs || '(no log output)');
  };

  return (
    <>
      <div className="page-head">
        <h1>
          Result #{r.id}: {r.model_name}
        </h1>
        <StatusBadge status={status} />
        {live && <LiveDot state={socket} />}
        <span className="spacer" />
        <Link className="btn" to={`/deployments/${r.deployment}`}>
          Deployment #{r.deployment}
        </Link>
        {live && (
          <ActionButton
            className="btn danger"
            confirm="Stop this training?"
            busyLabel="Stopping…"
            onClick={async () => res.setData(await api.post<TrainingResult>(`/api/v1/results/${r.id}/stop/`))}
          >
            Stop
          </ActionButton>
        )}
        {!live && (
          <ActionButton
            className="btn danger"
            confirm={`Delete result #${r.id}?`}
            title="Delete this result and its trained model"
            onClick={async () => {
              await api.del(`/api/v1/results/${r.id}/`);
              navigate(`/deployments/${r.deployment}`);
            }}
          >
            Delete
          </ActionButton>
        )}
        {!live && (
          <ActionButton
            className="btn"
            title="Train again: same configuration, settings, code version and seed, on the same datasource"
            busyLabel="Starting…"
            onClick={async () => {
              const d = await api.post<{ id: number }>(`/api/v1/results/${r.id}/rerun/`);
              navigate(`/deployments/${d.id}`);
            }}
          >
            Re-run
          </ActionButton>
        )}
        {r.status === 'finished' && hasModel && (
          <Link className="btn primary" to={`/results/${r.id}/inference`}>
            Deploy for inference
          </Link>
        )}
        {r.status === 'finished' && hasModel && <DeployChainLink resultId={r.id} />}
      </div>

      {r.status === 'failed' && (
        <div className="alert error" role="alert" data-testid="failure">
          <strong>Training failed.</strong> {r.error || 'No error message was reported.'}
          {r.log_tail && <pre className="log">{r.log_tail}</pre>}
        </div>
      )}
      {r.status === 'stopped' && (
        <div className="alert warn" data-testid="stopped">
          Training was stopped before the end{epochsDone ? ` (after ${epochsDone} epoch${epochsDone === 1 ? '' : 's'})` : ''}: the per-epoch
          metrics below are all there is.
        </div>
      )}

      <div className="card">
        <div className="stats">
          <div className="stat">
            <div className="k">Status</div>
            <div className="v" data-testid="result-status">
              {status}
            </div>
          </div>
          {federatedRoundOf(r) && (
            <div className="stat">
              <div className="k">Federated</div>
              <div className="v" data-testid="federated-round">
                {federatedRoundOf(r)}
              </div>
            </div>
          )}
          <div className="stat">
            <div className="k">Epochs reported</div>
            <div className="v" data-testid="epochs-reported">
              {epochsDone}
              {plannedEpochs ? ` / ${plannedEpochs}` : ''}
            </div>
          </div>
          <div className="stat">
            <div className="k">Training time</div>
            <div className="v">{r.training_time != null ? `${fmtNum(r.training_time, 1)} s` : '—'}</div>
          </div>
          <div className="stat">
            <div className="k">Model version</div>
            <div className="v">{latest ?? '—'}</div>
          </div>
          <div className="stat">
            <div className="k">Framework</div>
            <div className="v" style={{ fontSize: 16 }}>
              {r.framework === 'pytorch' ? 'PyTorch' : 'TensorFlow'}
            </div>
          </div>
        </div>
        {live && epochsDone === 0 && r.status === 'deployed' && (
          <p className="muted">
            <span className="spinner" /> Waiting for the first epoch…
          </p>
        )}
      </div>

      {(r.status === 'created' || (r.status === 'deployed' && epochsDone === 0)) && (
        <div className="card">
          <h2>Send training data</h2>
          <SendData deploymentId={r.deployment} />
        </div>
      )}

      <div className="grid two">
        {charts.map((c) => (
          <div className="card" key={c.name} data-testid={`chart-${c.name}`}>
            <h3>{c.name}</h3>
            <LineChart
              x={c.x}
              series={c.series.map((s, i) => ({
                label: s.label,
                values: s.values,
                color: i === 0 ? '#2563eb' : '#d97706',
                dash: s.validation,
              }))}
            />
          </div>
        ))}
        {!charts.length && !live && <div className="card muted">No per-epoch metrics were reported.</div>}
      </div>

      <div className="grid two" style={{ alignItems: 'start' }}>
        <div className="card">
          <h2>Final metrics</h2>
          <MetricsTable r={r} />
        </div>
        <div className="card">
          <h2>Confusion matrix</h2>
          {cm ? (
            <Heatmap matrix={cm.matrix} labels={cm.labels} />
          ) : (
            <p className="muted" data-testid="no-confusion">
              {missingFinalText(r.status, 'confusion')}
            </p>
          )}
        </div>
      </div>

      <PseudoLabellingTable rounds={r.pseudo_labelling} />
      <FederationSummary federation={r.federation} />

      <div className="grid two" style={{ alignItems: 'start' }}>
        <div className="card">
          <h2>Downloads</h2>
          {hasModel ? (
            <div className="actions">
              <a className="btn" href={`/api/v1/results/${r.id}/download/?kind=native`} download>
                Model ({r.framework === 'pytorch' ? 'TorchScript .pt' : 'Keras .keras'})
              </a>
              <a className="btn" href={`/api/v1/results/${r.id}/download/?kind=onnx`} download>
                ONNX
              </a>
              {extraDownloads(latestArtifact?.metadata).map(([kind, label]) => (
                <a key={kind} className="btn" href={`/api/v1/results/${r.id}/download/?kind=${kind}`} download>
                  {label}
                </a>
              ))}
              <a className="btn" href={`/api/v1/results/${r.id}/download/?kind=metrics`} download>
                Metrics JSON
              </a>
            </div>
          ) : (
            <>
              <p className="muted">The trained model can be downloaded once training finishes.</p>
              <a className="btn small" href={`/api/v1/results/${r.id}/download/?kind=metrics`} download>
                Metrics so far (JSON)
              </a>
            </>
          )}
          {hasModel && <TfliteTable r={r} metadata={latestArtifact?.metadata} />}
          {r.artifacts?.length > 1 && (
            <p className="small muted">
              {r.artifacts.length} versions kept; downloads give the latest (v{latest}).
            </p>
          )}
        </div>
        <div className="card">
          <h2>Log</h2>
          <div className="actions" style={{ marginBottom: 8 }}>
            <ActionButton className="btn small" onClick={loadLogs}>
              {logs === null ? 'Show log' : 'Refresh log'}
            </ActionButton>
            <span className="small muted">
              Created {fmtDate(r.created_at)}
              {r.seed != null && <> · seed {r.seed}</>}
            </span>
          </div>
          {logs !== null && (
            <pre className="log" data-testid="logs">
              {logs}
            </pre>
          )}
        </div>
      </div>

      <div className="grid two" style={{ alignItems: 'start' }}>
        <Provenance r={r} />
        <div className="card" data-testid="annotations">
          <h2>Tags &amp; note</h2>
          <RunAnnotations
            run={{ id: r.id, tags: r.tags ?? [], note: r.note ?? '' }}
            onSaved={(a) => res.setData((cur) => (cur ? { ...cur, ...a } : cur))}
          />
          <p className="small muted">
            <Link to="/runs">All runs</Link> · compare this run with others there.
          </p>
        </div>
      </div>
    </>
  );
}
