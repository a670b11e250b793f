import { useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { api, type Page } from '../lib/api';
import type { Run } from '../lib/types';
import { queryFromParams, queryToParams, runsUrl, toggleSort, type RunsQuery, type SortKey } from '../lib/runs';
import RunAnnotations from '../components/RunAnnotations';
import { Empty, ErrorAlert, Loading, StatusBadge, fmtDate, fmtNum, useLoad } from '../components/ui';
import '../styles/tracking.css';

const COLUMNS: { key: SortKey; label: string; num?: boolean; hide?: boolean }[] = [
  { key: 'id', label: 'Run' },
  { key: 'model_name', label: 'Model' },
  { key: 'status', label: 'Status' },
  { key: 'test_accuracy', label: 'Test accuracy', num: true },
  { key: 'test_loss', label: 'Test loss', num: true },
  { key: 'epochs', label: 'Epochs', num: true },
  { key: 'batch_size', label: 'Batch size', num: true },
  { key: 'framework', label: 'Framework', hide: true },
  { key: 'training_time', label: 'Training time', num: true, hide: true },
];

export function RunsTable({
  runs,
  query,
  onSort,
  selected,
  onSelect,
  onSaved,
}: {
  runs: Run[];
  query: RunsQuery;
  onSort: (k: SortKey) => void;
  selected: number[];
  onSelect: (id: number, on: boolean) => void;
  onSaved: (id: number, r: Pick<Run, 'tags' | 'note'>) => void;
}) {
  return (
    <div className="card table-wrap">
      <table className="list runs" data-testid="runs-table">
        <thead>
          <tr>
            <th>
              <span className="sr-only">Compare</span>
            </th>
            {COLUMNS.map((c) => (
              <th
                key={c.key}
                className={`${c.num ? 'num' : ''}${c.hide ? ' hide-sm' : ''}`}
                aria-sort={query.sort === c.key ? (query.desc ? 'descending' : 'ascending') : 'none'}
              >
                <button type="button" className="sort" onClick={() => onSort(c.key)}>
                  {c.label}
                  {query.sort === c.key ? (query.desc ? ' ▼' : ' ▲') : ''}
                </button>
              </th>
            ))}
            <th>Tags &amp; note</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} data-testid={`run-${r.id}`}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Compare run ${r.id}`}
                  checked={selected.includes(r.id)}
                  onChange={(e) => onSelect(r.id, e.target.checked)}
                />
              </td>
              <td>
                <Link to={`/results/${r.id}`}>#{r.id}</Link>
                <div className="small muted hide-sm">{fmtDate(r.created_at)}</div>
              </td>
              <td>
                {r.model_name}
                {r.model_version != null && <span className="muted small"> v{r.model_version}</span>}
              </td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td className="num">{fmtNum(r.test_accuracy)}</td>
              <td className="num">{fmtNum(r.test_loss)}</td>
              <td className="num">{r.epochs ?? r.epochs_reported}</td>
              <td className="num">{r.batch_size}</td>
              <td className="hide-sm">{r.framework === 'pytorch' ? 'PyTorch' : 'TensorFlow'}</td>
              <td className="num hide-sm">{r.training_time != null ? `${fmtNum(r.training_time, 1)} s` : '—'}</td>
              <td>
                <RunAnnotations run={r} onSaved={(a) => onSaved(r.id, a)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function Runs() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const query = queryFromParams(params);
  const url = runsUrl(query);
  const page = useLoad((s) => api.get<Page<Run>>(url, s), [url]);
  const [selected, setSelected] = useState<number[]>([]);
  const [search, setSearch] = useState(query.search);
  const [tag, setTag] = useState(query.tag);
  const set = (q: RunsQuery) => setParams(queryToParams(q), { replace: true });
  const pages = page.data ? Math.max(1, Math.ceil(page.data.count / query.pageSize)) : 1;

  return (
    <>
      <div className="page-head">
        <h1>Runs</h1>
        <span className="sub">Every training result, to sort, filter, tag and compare.</span>
        <span className="spacer" />
        <button
          type="button"
          className="btn primary"
          data-testid="compare-selected"
          disabled={selected.length < 2}
          onClick={() => navigate(`/runs/compare?ids=${selected.join(',')}`)}
          title={selected.length < 2 ? 'Tick two runs or more' : undefined}
        >
          Compare {selected.length ? `(${selected.length})` : ''}
        </button>
      </div>
      <form
        className="card filters row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          set({ ...query, search, tag, page: 1 });
        }}
      >
        <input aria-label="Search runs" placeholder="Search model, note, tag…" value={search} onChange={(e) => setSearch(e.target.value)} />
        <input aria-label="Tag" placeholder="tag" value={tag} onChange={(e) => setTag(e.target.value)} style={{ maxWidth: 160 }} />
        <select
          aria-label="Status"
          value={query.status}
          onChange={(e) => set({ ...query, status: e.target.value, page: 1 })}
          style={{ maxWidth: 160 }}
        >
          <option value="">any status</option>
          {['finished', 'deployed', 'created', 'stopped', 'failed'].map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <select
          aria-label="Framework"
          value={query.framework}
          onChange={(e) => set({ ...query, framework: e.target.value, page: 1 })}
          style={{ maxWidth: 170 }}
        >
          <option value="">any framework</option>
          <option value="tensorflow">TensorFlow</option>
          <option value="pytorch">PyTorch</option>
        </select>
        <button type="submit" className="btn">
          Filter
        </button>
        {(query.search || query.tag || query.status || query.framework) && (
          <button
            type="button"
            className="btn link"
            onClick={() => {
              setSearch('');
              setTag('');
              set({ ...query, search: '', tag: '', status: '', framework: '', page: 1 });
            }}
          >
            Clear
          </button>
        )}
      </form>
      <ErrorAlert error={page.error} />
      {page.loading && !page.data ? (
        <Loading what="runs" />
      ) : page.data && !page.data.results.length ? (
        <Empty
          title={query.search || query.tag || query.status || query.framework ? 'No run matches' : 'No runs yet'}
          actions={
            <Link className="btn" to="/configurations">
              Deploy a configuration
            </Link>
          }
        >
          Each model of a deployment is a run once it trains.
        </Empty>
      ) : page.data ? (
        <>
          <RunsTable
            runs={page.data.results}
            query={query}
            selected={selected}
            onSort={(k) => set(toggleSort(query, k))}
            onSelect={(id, on) => setSelected((cur) => (on ? [...cur.filter((x) => x !== id), id] : cur.filter((x) => x !== id)))}
            onSaved={(id, a) =>
              page.setData((cur) => (cur ? { ...cur, results: cur.results.map((r) => (r.id === id ? { ...r, ...a } : r)) } : cur))
            }
          />
          {pages > 1 && (
            <div className="actions pager">
              <button
                type="button"
                className="btn small"
                disabled={query.page <= 1}
                onClick={() => set({ ...query, page: query.page - 1 })}
              >
                Previous
              </button>
              <span className="small muted">
                Page {query.page} of {pages} · {page.data.count} runs
              </span>
              <button
                type="button"
                className="btn small"
                disabled={query.page >= pages}
                onClick={() => set({ ...query, page: query.page + 1 })}
              >
                Next
              </button>
            </div>
          )}
        </>
      ) : null}
    </>
  );
}
