import { useMemo } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { api } from '../lib/api';
import type { TrainingResult } from '../lib/types';
import { RUN_COLORS, metricsRows, overlayCurves, paramDiff, parseIds } from '../lib/runs';
import LineChart from '../components/LineChart';
import { ErrorAlert, Loading, StatusBadge, fmtNum, useLoad } from '../components/ui';
import '../styles/tracking.css';

type Compared = Pick<
  TrainingResult,
  | 'id'
  | 'model_name'
  | 'framework'
  | 'model_version'
  | 'provenance'
  | 'seed'
  | 'status'
  | 'epoch_metrics'
  | 'train_metrics'
  | 'val_metrics'
  | 'test_metrics'
  | 'training_time'
>;

/** The comparison itself, given the loaded results (tested without a server). */
export function CompareView({ results }: { results: Compared[] }) {
  const charts = useMemo(() => overlayCurves(results), [results]);
  const params = useMemo(() => paramDiff(results), [results]);
  const metrics = useMemo(() => metricsRows(results), [results]);
  const color = (id: number) => RUN_COLORS[results.findIndex((r) => r.id === id) % RUN_COLORS.length];
  const differing = params.filter((p) => p.differs).length;
  const head = (
    <thead>
      <tr>
        <th />
        {results.map((r) => (
          <th key={r.id} className="num">
            <Link to={`/results/${r.id}`} style={{ color: color(r.id) }}>
              #{r.id}
            </Link>{' '}
            <span className="muted">{r.model_name}</span>
          </th>
        ))}
      </tr>
    </thead>
  );
  return (
    <>
      <div className="card">
        <div className="row" style={{ gap: 12, flexWrap: 'wrap' }}>
          {results.map((r) => (
            <span key={r.id} className="nowrap">
              <span className="swatch" style={{ background: color(r.id) }} /> #{r.id} {r.model_name} <StatusBadge status={r.status} />
            </span>
          ))}
        </div>
      </div>
      <h2>Epoch curves</h2>
      <div className="grid two">
        {charts.map((c) => (
          <div className="card" key={c.name} data-testid={`compare-chart-${c.name}`}>
            <h3>{c.name}</h3>
            <LineChart
              x={c.x}
              series={c.series.map((s) => ({ label: s.label, values: s.values, color: color(s.run), dash: s.validation }))}
            />
          </div>
        ))}
        {!charts.length && <div className="card muted">None of these runs reported per-epoch metrics.</div>}
      </div>
      <div>
        <div className="card table-wrap">
          <h2>Metrics</h2>
          <table className="list compare" data-testid="compare-metrics">
            {head}
            <tbody>
              {metrics.map((m) => (
                <tr key={m.name}>
                  <td>{m.name}</td>
                  {m.values.map((v, i) => (
                    <td key={i} className={`num${m.best === i ? ' best' : ''}`} title={m.best === i ? 'best of these runs' : undefined}>
                      {fmtNum(v)}
                    </td>
                  ))}
                </tr>
              ))}
              {!metrics.length && (
                <tr>
                  <td colSpan={results.length + 1} className="muted">
                    No final metrics yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        <div className="card table-wrap">
          <h2>
            Parameters <span className="small muted">{differing ? `${differing} differ` : 'all equal'}</span>
          </h2>
          <table className="list compare" data-testid="compare-params">
            {head}
            <tbody>
              {params.map((p) => (
                <tr key={p.name} className={p.differs ? 'differs' : undefined} data-differs={p.differs || undefined}>
                  <td>{p.name}</td>
                  {p.values.map((v, i) => (
                    <td key={i} className="num">
                      <code>{v}</code>
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </>
  );
}

export default function Compare() {
  const [params] = useSearchParams();
  const ids = parseIds(params.get('ids'));
  const key = ids.join(',');
  const loaded = useLoad((s) => Promise.all(ids.map((id) => api.get<TrainingResult>(`/api/v1/results/${id}/`, s))), [key]);
  return (
    <>
      <div className="page-head">
        <h1>Compare runs</h1>
        <span className="sub">{ids.map((id) => `#${id}`).join(', ')}</span>
        <span className="spacer" />
        <Link className="btn" to="/runs">
          Back to runs
        </Link>
      </div>
      {ids.length < 2 ? (
        <div className="card">
          Pick two runs or more on the <Link to="/runs">runs table</Link> to compare them.
        </div>
      ) : (
        <>
          <ErrorAlert error={loaded.error} />
          {loaded.loading && !loaded.data ? <Loading what="the runs" /> : loaded.data ? <CompareView results={loaded.data} /> : null}
        </>
      )}
    </>
  );
}
