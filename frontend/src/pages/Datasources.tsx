import { useState } from 'react';
import { Link } from 'react-router-dom';
import { listAll } from '../lib/api';
import type { Configuration, Datasource } from '../lib/types';
import { Empty, ErrorAlert, Loading, fmtDate, useLoad } from '../components/ui';

export default function Datasources() {
  const sources = useLoad((s) => listAll<Datasource>('/api/v1/datasources/', s), []);
  const configs = useLoad((s) => listAll<Configuration>('/api/v1/configurations/', s), []);
  const [target, setTarget] = useState<Record<number, string>>({});
  return (
    <>
      <div className="page-head">
        <h1>Datasources</h1>
        <span className="sub">Data streams sent to deployments. Re-use one to train another configuration on the same data.</span>
      </div>
      <div className="alert info small">
        The embedded broker keeps topics in memory: after <code>kafkaml up</code> restarts, the data behind these entries is gone and cannot
        be re-used.
      </div>
      <ErrorAlert error={sources.error} />
      {sources.loading && !sources.data ? (
        <Loading what="datasources" />
      ) : sources.data && !sources.data.length ? (
        <Empty
          title="No datasources yet"
          actions={
            <Link className="btn primary" to="/deployments">
              Go to deployments
            </Link>
          }
        >
          A datasource appears when a sink sends data to a deployment. Open a deployment to see the snippet that does it.
        </Empty>
      ) : sources.data ? (
        <div className="card table-wrap">
          <table className="list">
            <thead>
              <tr>
                <th>#</th>
                <th>Description / topic</th>
                <th>Format</th>
                <th className="num">Records</th>
                <th className="hide-sm">Split (val/test)</th>
                <th className="hide-sm">Deployment</th>
                <th>Re-use</th>
              </tr>
            </thead>
            <tbody>
              {sources.data.map((s) => (
                <tr key={s.id}>
                  <td>{s.id}</td>
                  <td>
                    {s.description || <span className="muted">no description</span>}
                    <div className="muted small mono">{s.topic.length > 60 ? s.topic.slice(0, 60) + '…' : s.topic}</div>
                  </td>
                  <td>
                    {s.input_format}
                    {s.incremental && (
                      <span className="badge" style={{ marginLeft: 4 }}>
                        stream
                      </span>
                    )}
                    <div className="muted small mono">
                      {Object.entries(s.input_config ?? {})
                        .filter(([, v]) => v != null && v !== '')
                        .map(([k, v]) => `${k}=${typeof v === 'object' ? '…' : v}`)
                        .join(' ')}
                    </div>
                  </td>
                  <td className="num">{s.total_msg ?? '∞'}</td>
                  <td className="hide-sm">
                    {s.validation_rate} / {s.test_rate}
                  </td>
                  <td className="hide-sm">
                    {s.deployment ? (
                      <Link to={`/deployments/${s.deployment}`}>#{s.deployment}</Link>
                    ) : (
                      <span className="muted">#{s.deployment_key} (unknown)</span>
                    )}
                    <div className="muted small">{fmtDate(s.created_at)}</div>
                  </td>
                  <td>
                    <div className="actions">
                      <select
                        aria-label={`Configuration to train on datasource ${s.id}`}
                        value={target[s.id] ?? ''}
                        onChange={(e) => setTarget((t) => ({ ...t, [s.id]: e.target.value }))}
                        style={{ flex: '0 0 auto', maxWidth: 220 }}
                      >
                        <option value="">Configuration…</option>
                        {(configs.data ?? []).map((c) => (
                          <option key={c.id} value={c.id}>
                            {c.name}
                          </option>
                        ))}
                      </select>
                      {target[s.id] ? (
                        <Link className="btn small primary" to={`/configurations/${target[s.id]}/deploy?datasource=${s.id}`}>
                          Train
                        </Link>
                      ) : (
                        <button className="btn small" disabled title="Pick a configuration first">
                          Train
                        </button>
                      )}
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
