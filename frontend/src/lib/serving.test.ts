import { describe, expect, it } from 'vitest';
import { errorsInWindow, historyCharts } from './serving';
import type { MetricsPoint } from './types';

const point = (at: string, over: Partial<MetricsPoint> = {}): MetricsPoint => ({
  at,
  records_in_per_s: 10,
  records_out_per_s: 9,
  latency_p50_ms: 2,
  latency_p99_ms: 8,
  lag: 3,
  errors: 0,
  replicas_reporting: 1,
  ...over,
});

describe('serving history', () => {
  it('puts points on a minutes-before-now axis, oldest first', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    const charts = historyCharts([point('2026-01-01T11:59:00Z', { lag: 5 }), point('2026-01-01T11:58:00Z', { lag: 9 }), point('bad')], now);
    expect(charts.x).toEqual([-2, -1]);
    expect(charts.lag[0].values).toEqual([9, 5]);
    expect(charts.latency.map((s) => s.label)).toEqual(['p50 ms', 'p99 ms']);
    expect(charts.throughput[0].values).toEqual([10, 10]);
  });

  it('counts the errors of the window from the running total', () => {
    expect(errorsInWindow([point('a', { errors: 4 }), point('b', { errors: 10 })])).toBe(6);
    expect(errorsInWindow([])).toBe(0);
  });
});
