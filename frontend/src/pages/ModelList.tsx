import { useState } from 'react';
import { Link } from 'react-router-dom';
import { api, listAll } from '../lib/api';
import type { MLModel } from '../lib/types';
import { ActionButton, Empty, ErrorAlert, Loading, StatusBadge, fmtDate, useLoad } from '../components/ui';

export default function ModelList() {
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  const { data, error, loading, reload } = useLoad(
    (signal) => listAll<MLModel>(`/api/v1/models/${query ? `?search=${encodeURIComponent(query)}` : ''}`, signal),
    [query],
  );
  const byId = new Map((data ?? []).map((m) => [m.id, m]));

  return (
    <>
      <div className="page-head">
        <h1>Models</h1>
        <span className="spacer" />
        <input
          type="search"
          placeholder="Search models…"
          aria-label="Search models"
          value={search}
          style={{ maxWidth: 260 }}
          onChange={(e) => {
            setSearch(e.target.value);
            const v = e.target.value;
            window.clearTimeout((window as unknown as { __kmlSearch?: number }).__kmlSearch);
            (window as unknown as { __kmlSearch?: number }).__kmlSearch = window.setTimeout(() => setQuery(v.trim()), 250);
          }}
        />
        <Link className="btn primary" to="/models/new">
          New model
        </Link>
      </div>
      <ErrorAlert error={error} />
      {loading && !data ? (
        <Loading what="models" />
      ) : data && data.length === 0 ? (
        query ? (
          <Empty title={`No model matches “${query}”.`}>Try another word, or clear the search.</Empty>
        ) : (
          <Empty
            title="No models yet"
            actions={
              <Link className="btn primary" to="/models/new">
                Create your first model
              </Link>
            }
          >
            A model is Keras or PyTorch code. Start from a template: it is validated when you save.
          </Empty>
        )
      ) : data ? (
        <div className="card table-wrap">
          <table className="list">
            <thead>
              <tr>
                <th>Name</th>
                <th>Framework</th>
                <th className="hide-sm">Chain</th>
                <th>Validation</th>
                <th className="hide-sm">Updated</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.map((m) => (
                <tr key={m.id}>
                  <td>
                    <Link to={`/models/${m.id}`}>{m.name}</Link>
                    {m.description && <div className="muted small">{m.description}</div>}
                  </td>
                  <td>{m.framework === 'pytorch' ? 'PyTorch' : 'TensorFlow'}</td>
                  <td className="hide-sm">
                    {m.distributed ? (
                      <span>distributed{m.upper_model ? <> → {byId.get(m.upper_model)?.name ?? `#${m.upper_model}`}</> : ' (top)'}</span>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td>
                    <StatusBadge status={m.validation_status || 'valid'} />
                  </td>
                  <td className="hide-sm muted">{fmtDate(m.updated_at)}</td>
                  <td className="cell-actions">
                    <div className="actions end">
                      <Link className="btn small" to={`/models/${m.id}`}>
                        Edit
                      </Link>
                      <ActionButton
                        className="btn small danger"
                        disabled={!m.deletable}
                        title={m.deletable ? 'Delete this model' : `Cannot delete: ${m.delete_blockers.join('; ')}`}
                        confirm={`Delete the model “${m.name}”?`}
                        onClick={async () => {
                          await api.del(`/api/v1/models/${m.id}/`);
                          await reload(true);
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
