import { Link } from 'react-router-dom';
import { api, listAll } from '../lib/api';
import type { Deployment } from '../lib/types';
import { ActionButton, Empty, ErrorAlert, Loading, StatusBadge, fmtDate, useInterval, useLoad } from '../components/ui';

const FINAL = new Set(['finished', 'failed', 'stopped']);

export default function Deployments() {
  const deps = useLoad((s) => listAll<Deployment>('/api/v1/deployments/', s), []);
  const live = (deps.data ?? []).some((d) => d.results.some((r) => !FINAL.has(r.status)));
  useInterval(() => deps.reload(true), 3000, live);
  return (
    <>
      <div className="page-head">
        <h1>Deployments &amp; results</h1>
        <span className="spacer" />
        <Link className="btn" to="/configurations">
          Deploy a configuration
        </Link>
      </div>
      <ErrorAlert error={deps.error} />
      {deps.loading && !deps.data ? (
        <Loading what="deployments" />
      ) : deps.data && !deps.data.length ? (
        <Empty
          title="Nothing deployed yet"
          actions={
            <Link className="btn primary" to="/configurations">
              Go to configurations
            </Link>
          }
        >
          Deploy a configuration for training; each model gets a result here that updates live.
        </Empty>
      ) : deps.data ? (
        <div className="card table-wrap">
          <table className="list">
            <thead>
              <tr>
                <th>Deployment</th>
                <th>Configuration</th>
                <th>Results</th>
                <th className="hide-sm">Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {deps.data.map((d) => (
                <tr key={d.id}>
                  <td>
                    <Link to={`/deployments/${d.id}`}>#{d.id}</Link>
                    {d.incremental && (
                      <span className="badge" style={{ marginLeft: 6 }}>
                        incremental
                      </span>
                    )}
                  </td>
                  <td>
                    <Link to={`/configurations/${d.configuration}`}>{d.configuration_name}</Link>
                  </td>
                  <td>
                    {d.results.map((r) => (
                      <div key={r.id}>
                        <Link to={`/results/${r.id}`}>{r.model_name}</Link> <StatusBadge status={r.status} />
                      </div>
                    ))}
                  </td>
                  <td className="hide-sm muted">{fmtDate(d.created_at)}</td>
                  <td className="cell-actions">
                    <div className="actions end">
                      <ActionButton
                        className="btn small danger"
                        disabled={d.results.some((r) => !FINAL.has(r.status))}
                        title={
                          d.results.some((r) => !FINAL.has(r.status))
                            ? 'Stop its running results first'
                            : 'Delete the deployment and its results'
                        }
                        confirm={`Delete deployment #${d.id} and its results?`}
                        onClick={async () => {
                          await api.del(`/api/v1/deployments/${d.id}/`);
                          await deps.reload(true);
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
