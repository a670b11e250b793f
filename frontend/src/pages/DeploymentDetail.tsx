import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, listAll } from '../lib/api';
import type { Datasource, Deployment } from '../lib/types';
import { kwargsToText } from '../lib/snippets';
import SendData from '../components/SendData';
import ControlErrors from '../components/ControlErrors';
import FederatedPanel from '../components/FederatedPanel';
import NotFound from '../components/NotFound';
import { ActionButton, Loading, StatusBadge, fmtDate, useInterval, useLoad } from '../components/ui';

const FINAL = new Set(['finished', 'failed', 'stopped']);

type Modes = Pick<
  Deployment,
  | 'incremental'
  | 'incremental_mode'
  | 'stream_timeout'
  | 'window_size'
  | 'monitored_metric'
  | 'improvement'
  | 'change'
  | 'unsupervised_rounds'
  | 'confidence_threshold'
>;

/** How an incremental deployment trains, in words (null for an ordinary one). */
export function incrementalText(d: Modes): string | null {
  if (!d.incremental) return null;
  const mode =
    d.incremental_mode === 'time_limited' ? `time-limited: ends after ${d.stream_timeout} s without data` : 'indefinite: until stopped';
  const direction = d.change === 'up' ? 'higher is better' : d.change === 'down' ? 'lower is better' : 'direction from its name';
  return `${mode}; windows of ${d.window_size} records or ${d.stream_timeout} s; a new version when ${d.monitored_metric} improves by ≥ ${d.improvement} (${direction})`;
}

/** Semi-supervised settings in words (null without pseudo-labelling). */
export function semiSupervisedText(d: Modes): string | null {
  if (!d.unsupervised_rounds) return null;
  return `${d.unsupervised_rounds} pseudo-labelling round${d.unsupervised_rounds === 1 ? '' : 's'}, confidence ≥ ${d.confidence_threshold ?? 0.9}`;
}

export default function DeploymentDetail() {
  const { id } = useParams();
  const navigate = useNavigate();
  const dep = useLoad((s) => api.get<Deployment>(`/api/v1/deployments/${id}/`, s), [id]);
  // Its datasources once the deployment is known to exist (none asked for a missing one).
  const found = dep.data?.id;
  const sources = useLoad(
    (s) => (found ? listAll<Datasource>(`/api/v1/datasources/?deployment=${found}`, s) : Promise.resolve([])),
    [found],
  );
  const running = dep.data?.results.some((r) => !FINAL.has(r.status)) ?? false;
  useInterval(
    () => {
      dep.reload(true);
      sources.reload(true);
    },
    3000,
    running,
  );
  if (dep.loading && !dep.data) return <Loading what="the deployment" />;
  if (!dep.data) return <NotFound error={dep.error} what={`Deployment #${id}`} back="/deployments" backLabel="Back to deployments" />;
  const d = dep.data;
  const waiting = !d.datasource && !(sources.data ?? []).length && d.results.some((r) => r.status === 'created' || r.status === 'deployed');
  return (
    <>
      <div className="page-head">
        <h1>Deployment #{d.id}</h1>
        <span className="sub">
          of <Link to={`/configurations/${d.configuration}`}>{d.configuration_name}</Link>
        </span>
        <span className="spacer" />
        <ActionButton
          className="btn danger"
          disabled={running}
          title={running ? 'Stop its running results first' : 'Delete'}
          confirm={`Delete deployment #${d.id} and its results?`}
          onClick={async () => {
            await api.del(`/api/v1/deployments/${d.id}/`);
            navigate('/deployments');
          }}
        >
          Delete
        </ActionButton>
      </div>
      <ControlErrors deploymentId={d.id} live={running} />
      <div className="grid two" style={{ alignItems: 'start' }}>
        <div className="card">
          <h2>Results</h2>
          <table className="list">
            <thead>
              <tr>
                <th>Model</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {d.results.map((r) => (
                <tr key={r.id}>
                  <td>
                    {r.model_name}
                    {r.chain_leader && <span className="muted small"> (in chain)</span>}
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>
                    <Link className="btn small" to={`/results/${r.id}`}>
                      Open result
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3 style={{ marginTop: 16 }}>Settings</h3>
          <dl className="kv small">
            <dt>Batch size</dt>
            <dd>{d.batch_size}</dd>
            <dt>Fit arguments</dt>
            <dd className="mono">{kwargsToText(d.training_kwargs) || '—'}</dd>
            <dt>Evaluation arguments</dt>
            <dd className="mono">{kwargsToText(d.evaluation_kwargs) || '—'}</dd>
            <dt>Optimizer</dt>
            <dd>
              {d.optimizer} (lr {d.learning_rate})
            </dd>
            <dt>Loss / metrics</dt>
            <dd>
              {d.loss} / {d.metrics || '—'}
            </dd>
            <dt>Confusion matrix</dt>
            <dd>{d.confusion_matrix ? 'yes' : 'no'}</dd>
            <dt>GPUs</dt>
            <dd>{d.gpus}</dd>
            {incrementalText(d) && (
              <>
                <dt>Incremental</dt>
                <dd data-testid="incremental-mode">{incrementalText(d)}</dd>
              </>
            )}
            {semiSupervisedText(d) && (
              <>
                <dt>Semi-supervised</dt>
                <dd data-testid="semi-supervised">{semiSupervisedText(d)}</dd>
              </>
            )}
            <dt>Created</dt>
            <dd>{fmtDate(d.created_at)}</dd>
          </dl>
        </div>
        <div className="card">
          <h2>Training data</h2>
          {d.datasource ? (
            <p>
              Trains on <Link to="/datasources">datasource #{d.datasource}</Link> (re-used).
            </p>
          ) : (sources.data ?? []).length ? (
            <p>
              Received:{' '}
              {(sources.data ?? []).map((s) => (
                <span key={s.id}>
                  datasource #{s.id} ({s.total_msg ?? '∞'} records on <code>{s.topic.split(':')[0]}</code>){' '}
                </span>
              ))}
            </p>
          ) : null}
          {(waiting || !d.datasource) && <SendData deploymentId={d.id} />}
        </div>
      </div>
      <FederatedPanel deploymentId={d.id} />
    </>
  );
}
