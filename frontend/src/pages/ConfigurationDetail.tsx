import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, listAll } from '../lib/api';
import type { Configuration, Deployment, MLModel } from '../lib/types';
import { ActionButton, ErrorAlert, Loading, StatusBadge, fmtDate, useLoad } from '../components/ui';

export default function ConfigurationDetail() {
  const { id } = useParams();
  const navigate = useNavigate();
  const conf = useLoad((s) => api.get<Configuration>(`/api/v1/configurations/${id}/`, s), [id]);
  const models = useLoad((s) => listAll<MLModel>('/api/v1/models/', s), []);
  const deps = useLoad((s) => listAll<Deployment>(`/api/v1/deployments/?configuration=${id}`, s), [id]);
  if (conf.loading && !conf.data) return <Loading what="the configuration" />;
  if (!conf.data) return <ErrorAlert error={conf.error} />;
  const c = conf.data;
  const byId = new Map((models.data ?? []).map((m) => [m.id, m]));
  return (
    <>
      <div className="page-head">
        <h1>Configuration: {c.name}</h1>
        <span className="spacer" />
        <Link className="btn" to="/configurations">
          All configurations
        </Link>
        <ActionButton
          className="btn danger"
          disabled={!c.deletable}
          title={c.deletable ? 'Delete' : 'In use: it has deployments. Delete its deployments first.'}
          confirm={`Delete the configuration “${c.name}”?`}
          onClick={async () => {
            await api.del(`/api/v1/configurations/${c.id}/`);
            navigate('/configurations');
          }}
        >
          Delete
        </ActionButton>
        <Link className="btn primary" to={`/configurations/${c.id}/deploy`}>
          Deploy for training
        </Link>
      </div>
      {!c.deletable && <div className="alert info">This configuration has deployments, so it cannot be deleted or changed.</div>}
      <div className="grid two" style={{ alignItems: 'start' }}>
        <div className="card">
          <h2>Models</h2>
          {c.description && <p>{c.description}</p>}
          <table className="list">
            <thead>
              <tr>
                <th>Model</th>
                <th>Framework</th>
                <th>Output shape</th>
              </tr>
            </thead>
            <tbody>
              {c.models.map((mid, i) => {
                const m = byId.get(mid);
                return (
                  <tr key={mid}>
                    <td>
                      <Link to={`/models/${mid}`}>{m?.name ?? c.model_names[i]}</Link>
                      {m?.distributed && <span className="muted small"> (distributed)</span>}
                    </td>
                    <td>{m ? (m.framework === 'pytorch' ? 'PyTorch' : 'TensorFlow') : '…'}</td>
                    <td className="mono">{m ? JSON.stringify(m.output_shape) : '…'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <div className="card">
          <h2>Deployments</h2>
          <ErrorAlert error={deps.error} />
          {deps.data && !deps.data.length && (
            <p className="muted">
              Not deployed yet. <Link to={`/configurations/${c.id}/deploy`}>Deploy it for training →</Link>
            </p>
          )}
          {deps.data?.map((d) => (
            <div key={d.id} style={{ marginBottom: 8 }}>
              <Link to={`/deployments/${d.id}`}>Deployment #{d.id}</Link> <span className="muted small">{fmtDate(d.created_at)}</span>{' '}
              {d.results.map((r) => (
                <StatusBadge key={r.id} status={r.status} />
              ))}
            </div>
          ))}
        </div>
      </div>
    </>
  );
}
