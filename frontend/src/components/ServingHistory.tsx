import { useMemo, useState } from 'react';
import { api } from '../lib/api';
import type { Inference, MetricsPoint } from '../lib/types';
import { errorsInWindow, historyCharts } from '../lib/serving';
import LineChart from './LineChart';
import { ActionButton, fmtNum, useInterval, useLoad } from './ui';
import '../styles/tracking.css';

const X_LABEL = 'minutes (0 = now)';

/** Records/s, latency p50/p99 and lag over time (the backend keeps the newest 720 points),
 *  the inference's last error, and its log on demand. Refreshes while `active`. */
export default function ServingHistory({ inference, active }: { inference: Pick<Inference, 'id' | 'error' | 'status'>; active: boolean }) {
  const [open, setOpen] = useState(active);
  const [logs, setLogs] = useState<string | null>(null);
  const history = useLoad(
    (s) => (open ? api.get<MetricsPoint[]>(`/api/v1/inferences/${inference.id}/metrics-history/`, s) : Promise.resolve(null)),
    [inference.id, open],
  );
  useInterval(() => history.reload(true), 5000, open && active);
  const points = useMemo(() => history.data ?? [], [history.data]);
  const charts = useMemo(() => historyCharts(points), [points]);
  const loadLogs = async () => {
    const out = await api.get<{ logs: string }>(`/api/v1/inferences/${inference.id}/logs/`);
    setLogs(out.logs || '(no log output)');
  };

  return (
    <div className="serving-history" data-testid={`serving-history-${inference.id}`}>
      {inference.error && inference.status !== 'failed' && (
        <div className="alert warn small" data-testid="last-error">
          <strong>Last error:</strong> {inference.error}
        </div>
      )}
      <div className="actions">
        <button type="button" className="btn small" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
          {open ? 'Hide history' : 'Show history'}
        </button>
        <ActionButton className="btn small" onClick={loadLogs}>
          {logs === null ? 'Show log' : 'Refresh log'}
        </ActionButton>
        {logs !== null && (
          <button type="button" className="btn small link" onClick={() => setLogs(null)}>
            Hide log
          </button>
        )}
        {open && points.length > 0 && (
          <span className="small muted">
            {points.length} points · {fmtNum(errorsInWindow(points), 0)} errors in this window
          </span>
        )}
      </div>
      {open &&
        (points.length < 2 ? (
          <p className="small muted">
            {history.loading ? 'Loading history…' : 'The history fills as the replicas report (every few seconds while it serves).'}
          </p>
        ) : (
          <div className="charts">
            <div data-testid="history-throughput">
              <h3 className="small">Records / s</h3>
              <LineChart
                x={charts.x}
                xLabel={X_LABEL}
                height={160}
                series={charts.throughput.map((s, i) => ({ ...s, color: i ? '#16a34a' : '#2563eb' }))}
              />
            </div>
            <div data-testid="history-latency">
              <h3 className="small">Latency</h3>
              <LineChart
                x={charts.x}
                xLabel={X_LABEL}
                height={160}
                series={charts.latency.map((s, i) => ({ ...s, color: i ? '#dc2626' : '#d97706' }))}
              />
            </div>
            <div data-testid="history-lag">
              <h3 className="small">Lag</h3>
              <LineChart x={charts.x} xLabel={X_LABEL} height={160} series={charts.lag.map((s) => ({ ...s, color: '#7c3aed' }))} />
            </div>
          </div>
        ))}
      {logs !== null && (
        <pre className="log" data-testid="inference-logs">
          {logs}
        </pre>
      )}
    </div>
  );
}
