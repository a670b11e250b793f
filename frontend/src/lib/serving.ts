// Serving history of an inference (GET /inferences/<id>/metrics-history/) as chart series.
import type { MetricsPoint } from './types';

export interface HistoryCharts {
  /** minutes relative to now (negative: in the past), ascending */
  x: number[];
  throughput: { label: string; values: number[] }[];
  latency: { label: string; values: number[] }[];
  lag: { label: string; values: number[] }[];
}

export function historyCharts(points: MetricsPoint[], now: number = Date.now()): HistoryCharts {
  const rows = points
    .map((p) => ({ p, t: new Date(p.at).getTime() }))
    .filter((r) => Number.isFinite(r.t))
    .sort((a, b) => a.t - b.t);
  // uPlot needs strictly usable x values: two reports in the same millisecond keep their order.
  const x = rows.map((r) => Math.round(((r.t - now) / 60000) * 1000) / 1000);
  const col = (f: (p: MetricsPoint) => number) => rows.map((r) => (Number.isFinite(f(r.p)) ? f(r.p) : 0));
  return {
    x,
    throughput: [
      { label: 'records in / s', values: col((p) => p.records_in_per_s) },
      { label: 'records out / s', values: col((p) => p.records_out_per_s) },
    ],
    latency: [
      { label: 'p50 ms', values: col((p) => p.latency_p50_ms) },
      { label: 'p99 ms', values: col((p) => p.latency_p99_ms) },
    ],
    lag: [{ label: 'lag (records)', values: col((p) => p.lag) }],
  };
}

/** The newest point's errors counter minus the oldest one's: errors in the window shown. */
export function errorsInWindow(points: MetricsPoint[]): number {
  if (points.length < 2) return points[0]?.errors ?? 0;
  return Math.max(0, points[points.length - 1].errors - points[0].errors);
}
