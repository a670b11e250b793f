import type { EpochMetrics } from './types';

export interface MetricChart {
  name: string;
  x: number[];
  series: { label: string; values: (number | null)[]; validation: boolean }[];
}

/** Epoch metrics → one chart per metric, its validation twin (`val_…`) on the same chart. */
export function epochCharts(epochs: EpochMetrics[]): MetricChart[] {
  const rows = epochs
    .map((e) => {
      const flat: Record<string, number> = {};
      const src = e.metrics && typeof e.metrics === 'object' ? { ...e, ...e.metrics } : e;
      for (const [k, v] of Object.entries(src)) if (k !== 'epoch' && typeof v === 'number' && Number.isFinite(v)) flat[k] = v;
      return { epoch: Number(e.epoch), flat };
    })
    .filter((r) => Number.isFinite(r.epoch))
    .sort((a, b) => a.epoch - b.epoch);
  const names = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r.flat)) names.add(k.startsWith('val_') ? k.slice(4) : k);
  const x = rows.map((r) => r.epoch);
  const order = (n: string) => (n === 'loss' ? 0 : 1);
  return [...names]
    .sort((a, b) => order(a) - order(b) || a.localeCompare(b))
    .map((name) => {
      const series: MetricChart['series'] = [];
      for (const [key, validation] of [
        [name, false],
        [`val_${name}`, true],
      ] as const) {
        if (rows.some((r) => key in r.flat))
          series.push({
            label: validation ? `validation ${name}` : `train ${name}`,
            values: rows.map((r) => r.flat[key] ?? null),
            validation,
          });
      }
      return { name, x, series };
    });
}

/** Merge one pushed epoch into the list (replacing an epoch already there). */
export function mergeEpoch(epochs: EpochMetrics[], pushed: EpochMetrics): EpochMetrics[] {
  const rest = epochs.filter((e) => e.epoch !== pushed.epoch);
  return [...rest, pushed].sort((a, b) => a.epoch - b.epoch);
}

export function confusion(cm: unknown): { matrix: number[][]; labels?: (string | number)[] } | null {
  if (!cm) return null;
  if (Array.isArray(cm) && cm.every((r) => Array.isArray(r))) return { matrix: cm as number[][] };
  if (typeof cm === 'object') {
    const o = cm as Record<string, unknown>;
    const m = o.matrix ?? o.values ?? o.data;
    if (Array.isArray(m) && m.every((r) => Array.isArray(r)))
      return { matrix: m as number[][], labels: Array.isArray(o.labels) ? (o.labels as (string | number)[]) : undefined };
  }
  return null;
}
