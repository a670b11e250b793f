// Experiment tracking: the runs table's query, and the comparison of runs (curves, parameters,
// metrics). Pure functions, so the table and the comparison page stay thin.
import type { EpochMetrics, Provenance, Run, TrainingResult } from './types';

export type SortKey =
  | 'id'
  | 'created_at'
  | 'status'
  | 'model_name'
  | 'framework'
  | 'batch_size'
  | 'epochs'
  | 'training_time'
  | 'test_accuracy'
  | 'test_loss'
  | 'val_accuracy'
  | 'val_loss';

export interface RunsQuery {
  sort: SortKey;
  desc: boolean;
  search: string;
  tag: string;
  status: string;
  framework: string;
  page: number;
  pageSize: number;
}

export const DEFAULT_RUNS_QUERY: RunsQuery = {
  sort: 'id',
  desc: true,
  search: '',
  tag: '',
  status: '',
  framework: '',
  page: 1,
  pageSize: 25,
};

/** GET /api/v1/runs/ with the table's sort, filters and page (the server sorts and filters). */
export function runsUrl(q: RunsQuery): string {
  const p = new URLSearchParams();
  p.set('ordering', `${q.desc ? '-' : ''}${q.sort}`);
  if (q.search.trim()) p.set('search', q.search.trim());
  if (q.tag.trim()) p.set('tag', q.tag.trim());
  if (q.status) p.set('status', q.status);
  if (q.framework) p.set('framework', q.framework);
  p.set('page', String(q.page));
  p.set('page_size', String(q.pageSize));
  return `/api/v1/runs/?${p.toString()}`;
}

/** Clicking a column header: sort by it (metrics best-first), or flip it if it is the sort. */
export function toggleSort(q: RunsQuery, key: SortKey): RunsQuery {
  if (q.sort === key) return { ...q, desc: !q.desc, page: 1 };
  const ascFirst = key === 'test_loss' || key === 'val_loss' || key === 'model_name' || key === 'framework' || key === 'status';
  return { ...q, sort: key, desc: !ascFirst, page: 1 };
}

/** The query in the page's address (shareable), and back. */
export function queryFromParams(params: URLSearchParams): RunsQuery {
  const ordering = params.get('ordering') ?? '-id';
  const desc = ordering.startsWith('-');
  return {
    ...DEFAULT_RUNS_QUERY,
    sort: (desc ? ordering.slice(1) : ordering) as SortKey,
    desc,
    search: params.get('search') ?? '',
    tag: params.get('tag') ?? '',
    status: params.get('status') ?? '',
    framework: params.get('framework') ?? '',
    page: Math.max(1, Number(params.get('page')) || 1),
  };
}

export function queryToParams(q: RunsQuery): Record<string, string> {
  const out: Record<string, string> = {};
  if (q.sort !== 'id' || !q.desc) out.ordering = `${q.desc ? '-' : ''}${q.sort}`;
  for (const k of ['search', 'tag', 'status', 'framework'] as const) if (q[k]) out[k] = q[k];
  if (q.page > 1) out.page = String(q.page);
  return out;
}

/** "best, lr sweep ,best" → ['best', 'lr-sweep'] (the server accepts letters, digits, _ . : -). */
export function parseTags(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/[,\n]/)) {
    const tag = raw.trim().replace(/\s+/g, '-').slice(0, 50);
    if (tag && !out.includes(tag)) out.push(tag);
  }
  return out;
}

// --- comparison --------------------------------------------------------------------------

/** How the deployment settings read in the UI (provenance, parameter diff). */
export const SETTING_LABELS: Record<string, string> = {
  batch_size: 'Batch size',
  training_kwargs: 'Fit arguments',
  evaluation_kwargs: 'Evaluate arguments',
  optimizer: 'Optimizer',
  learning_rate: 'Learning rate',
  loss: 'Loss',
  metrics: 'Metrics',
  confusion_matrix: 'Confusion matrix',
  incremental: 'Incremental',
  stream_timeout: 'Stream timeout (s)',
  monitored_metric: 'Monitored metric',
  improvement: 'Improvement',
  window_size: 'Window size',
  gpus: 'GPUs',
};
// Incremental-only settings are noise on a batch run.
export const INCREMENTAL_ONLY = new Set(['stream_timeout', 'monitored_metric', 'improvement', 'window_size']);

export interface ParamRow {
  name: string;
  values: string[];
  differs: boolean;
}

function show(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The parameters of each run side by side; `differs` marks a row whose values are not all equal. */
export function paramDiff(
  results: Pick<TrainingResult, 'model_name' | 'framework' | 'model_version' | 'provenance' | 'seed'>[],
): ParamRow[] {
  const rows: Record<string, string[]> = {};
  // Incremental-only settings are compared only when one of the runs is incremental.
  const anyIncremental = results.some((r) => r.provenance?.settings?.incremental === true);
  const add = (name: string, i: number, v: unknown) => {
    rows[name] ??= results.map(() => '—');
    rows[name][i] = show(v);
  };
  results.forEach((r, i) => {
    const p: Provenance | undefined = r.provenance;
    add('model', i, r.model_name);
    add('model version', i, r.model_version != null ? `v${r.model_version}` : null);
    add('framework', i, r.framework);
    const settings = p?.settings ?? {};
    for (const [k, v] of Object.entries(settings)) {
      if (k === 'training_kwargs' && v && typeof v === 'object') {
        for (const [kk, vv] of Object.entries(v as Record<string, unknown>)) add(`fit: ${kk}`, i, vv);
      } else if (k === 'evaluation_kwargs' && v && typeof v === 'object') {
        for (const [kk, vv] of Object.entries(v as Record<string, unknown>)) add(`evaluate: ${kk}`, i, vv);
      } else if (k !== 'seed' && (anyIncremental || !INCREMENTAL_ONLY.has(k))) add(SETTING_LABELS[k] ?? k, i, v);
    }
    add('seed', i, r.seed ?? settings.seed);
    add('datasource', i, p?.datasource ? `#${p.datasource.id} ${p.datasource.topic}` : null);
  });
  return Object.entries(rows).map(([name, values]) => ({ name, values, differs: new Set(values).size > 1 }));
}

/** Final metrics of each run per split, one row per metric name (`test accuracy` …). */
export function metricsRows(
  results: Pick<TrainingResult, 'train_metrics' | 'val_metrics' | 'test_metrics' | 'training_time'>[],
): { name: string; values: (number | null)[]; best: number | null }[] {
  const splits = [
    ['test', 'test_metrics'],
    ['validation', 'val_metrics'],
    ['train', 'train_metrics'],
  ] as const;
  const out: { name: string; values: (number | null)[]; best: number | null }[] = [];
  for (const [label, key] of splits) {
    const names = [...new Set(results.flatMap((r) => Object.keys(r[key] ?? {})))].sort();
    for (const n of names) {
      const values = results.map((r) => {
        const v = (r[key] ?? {})[n];
        return typeof v === 'number' && Number.isFinite(v) ? v : null;
      });
      out.push({ name: `${label} ${n}`, values, best: bestIndex(n, values) });
    }
  }
  const times = results.map((r) => (typeof r.training_time === 'number' ? r.training_time : null));
  if (times.some((t) => t != null)) out.push({ name: 'training time (s)', values: times, best: bestIndex('time', times) });
  return out;
}

/** Index of the best value: lowest for losses, errors and times, highest otherwise. */
export function bestIndex(metric: string, values: (number | null)[]): number | null {
  const lower = /loss|error|mse|mae|time/i.test(metric);
  let best: number | null = null;
  values.forEach((v, i) => {
    if (v == null) return;
    if (best == null || (lower ? v < (values[best] as number) : v > (values[best] as number))) best = i;
  });
  return values.filter((v) => v != null).length > 1 ? best : null;
}

export interface OverlayChart {
  name: string;
  x: number[];
  series: { label: string; values: (number | null)[]; run: number; validation: boolean }[];
}

function flat(e: EpochMetrics): Record<string, number> {
  const src = e.metrics && typeof e.metrics === 'object' ? { ...e, ...e.metrics } : e;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(src)) if (k !== 'epoch' && typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

/** One chart per metric with every run's curve on it (x: the union of epochs), validation dashed. */
export function overlayCurves(results: Pick<TrainingResult, 'id' | 'epoch_metrics'>[]): OverlayChart[] {
  const perRun = results.map((r) => {
    const byEpoch = new Map<number, Record<string, number>>();
    for (const e of r.epoch_metrics ?? []) if (Number.isFinite(Number(e.epoch))) byEpoch.set(Number(e.epoch), flat(e));
    return { id: r.id, byEpoch };
  });
  const epochs = [...new Set(perRun.flatMap((r) => [...r.byEpoch.keys()]))].sort((a, b) => a - b);
  const names = new Set<string>();
  for (const r of perRun)
    for (const m of r.byEpoch.values()) for (const k of Object.keys(m)) names.add(k.startsWith('val_') ? k.slice(4) : k);
  const order = (n: string) => (n === 'loss' ? 0 : 1);
  return [...names]
    .sort((a, b) => order(a) - order(b) || a.localeCompare(b))
    .map((name) => {
      const series: OverlayChart['series'] = [];
      for (const r of perRun) {
        for (const [key, validation] of [
          [name, false],
          [`val_${name}`, true],
        ] as const) {
          if (![...r.byEpoch.values()].some((m) => key in m)) continue;
          series.push({
            label: `#${r.id} ${validation ? 'validation' : 'train'}`,
            values: epochs.map((e) => r.byEpoch.get(e)?.[key] ?? null),
            run: r.id,
            validation,
          });
        }
      }
      return { name, x: epochs, series };
    });
}

export const RUN_COLORS = ['#2563eb', '#d97706', '#16a34a', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

/** Comparison ids from `?ids=3,5,9` (whole numbers, no repeats, at most 8). */
export function parseIds(text: string | null): number[] {
  const out: number[] = [];
  for (const part of (text ?? '').split(',')) {
    const n = Number(part.trim());
    if (Number.isInteger(n) && n > 0 && !out.includes(n)) out.push(n);
  }
  return out.slice(0, 8);
}

export type { Run };
