// Visualization logic, free of React: parse the display configuration, fold predictions into
// what the page draws. Kept pure so it is easy to test.

export interface VizLabel {
  id: number;
  label: string;
  color: string;
}

export interface VizConfig {
  type: 'classification' | 'regression';
  labels: VizLabel[];
  /** How many recent predictions the counts, averages and charts cover. */
  average_window: number;
  /** true: the current class is the one with the highest average over the window;
   *  false: the current class is the latest prediction's. */
  average_updated: boolean;
}

export interface Prediction {
  values: unknown;
  model_version?: number | null;
  timestamp?: number | null;
  partition?: number;
  offset?: number;
}

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#4f46e5'];

export function colorFor(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

export const DEFAULT_WINDOW = 200;

export function defaultConfig(outputs = 10, type: VizConfig['type'] = 'classification'): VizConfig {
  const n = Math.max(1, Math.min(outputs, 100));
  return {
    type,
    labels: Array.from({ length: type === 'classification' && n === 1 ? 2 : n }, (_, i) => ({
      id: i,
      label: String(i),
      color: colorFor(i),
    })),
    average_window: DEFAULT_WINDOW,
    average_updated: false,
  };
}

export interface ParsedConfig {
  config: VizConfig;
  errors: string[];
}

/** Parse the user's JSON text; anything missing takes a sensible default, anything wrong is
 *  reported (and replaced by the default) rather than thrown. */
export function parseConfig(text: string, outputs = 10): ParsedConfig {
  const errors: string[] = [];
  const trimmed = text.trim();
  if (!trimmed) return { config: defaultConfig(outputs), errors };
  let raw: unknown;
  try {
    raw = JSON.parse(trimmed);
  } catch (err) {
    return { config: defaultConfig(outputs), errors: [`Not valid JSON: ${(err as Error).message}`] };
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    return { config: defaultConfig(outputs), errors: ['The configuration must be a JSON object.'] };
  }
  const obj = raw as Record<string, unknown>;
  let type: VizConfig['type'] = 'classification';
  if (obj.type !== undefined) {
    if (obj.type === 'classification' || obj.type === 'regression') type = obj.type;
    else errors.push('`type` must be "classification" or "regression".');
  }
  const base = defaultConfig(outputs, type);
  let labels = base.labels;
  if (obj.labels !== undefined) {
    if (!Array.isArray(obj.labels)) {
      errors.push('`labels` must be a list of {id, label, color}.');
    } else {
      const parsed: VizLabel[] = [];
      obj.labels.forEach((item, i) => {
        if (!item || typeof item !== 'object') {
          errors.push(`labels[${i}] must be an object.`);
          return;
        }
        const l = item as Record<string, unknown>;
        const id = l.id === undefined ? i : Number(l.id);
        if (!Number.isInteger(id) || id < 0) {
          errors.push(`labels[${i}].id must be a whole number ≥ 0.`);
          return;
        }
        parsed.push({
          id,
          label: l.label === undefined ? String(id) : String(l.label),
          color: typeof l.color === 'string' && l.color ? l.color : colorFor(id),
        });
      });
      if (parsed.length) labels = parsed;
    }
  }
  let window = base.average_window;
  if (obj.average_window !== undefined) {
    const w = Number(obj.average_window);
    if (!Number.isInteger(w) || w < 1) errors.push('`average_window` must be a whole number ≥ 1.');
    else window = Math.min(w, 100000);
  }
  let averageUpdated = base.average_updated;
  if (obj.average_updated !== undefined) {
    if (typeof obj.average_updated !== 'boolean') errors.push('`average_updated` must be true or false.');
    else averageUpdated = obj.average_updated;
  }
  return { config: { type, labels, average_window: window, average_updated: averageUpdated }, errors };
}

/** The numbers of one prediction, flattened (`[[0.1, 0.9]]` → `[0.1, 0.9]`). */
export function toVector(values: unknown): number[] {
  if (typeof values === 'number') return [values];
  if (!Array.isArray(values)) return [];
  const out: number[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'number') out.push(v);
    else if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) out.push(Number(v));
  };
  walk(values);
  return out;
}

/** The class a vector stands for: argmax, or for a single sigmoid output, 0/1 at 0.5. */
export function classOf(vector: number[]): number | null {
  if (!vector.length) return null;
  if (vector.length === 1) return vector[0] >= 0.5 ? 1 : 0;
  let best = 0;
  for (let i = 1; i < vector.length; i++) if (vector[i] > vector[best]) best = i;
  return best;
}

/** What a classifier's outputs are (the artifact's metadata `output_kind`); unknown for old
 *  artifacts, then values outside [0, 1] mean logits. */
export type OutputKind = 'probabilities' | 'logits' | null | undefined;

/** The outputs as probabilities: logits through softmax (a single logit through the sigmoid);
 *  probabilities as they are. A confidence is then always within [0, 1]. */
export function toProbabilities(vector: number[], kind?: OutputKind): number[] {
  const logits = kind === 'logits' || (kind !== 'probabilities' && vector.some((v) => v < 0 || v > 1));
  if (!logits || !vector.length) return vector;
  if (vector.length === 1) return [1 / (1 + Math.exp(-vector[0]))];
  const max = Math.max(...vector);
  const exp = vector.map((v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((e) => e / sum);
}

export interface ClassPoint {
  cls: number;
  confidence: number;
  /** the outputs as received (regression charts); `probs`: as probabilities (classification) */
  vector: number[];
  probs: number[];
  at: number;
  version: number | null;
}

export interface VizState {
  total: number;
  /** Recent predictions, oldest first, at most `average_window`. */
  recent: ClassPoint[];
  /** Predictions that carried no numbers. */
  skipped: number;
  lastVersion: number | null;
}

export function emptyState(): VizState {
  return { total: 0, recent: [], skipped: 0, lastVersion: null };
}

/** Fold a batch of predictions into the state (returns a new state). */
export function addPredictions(state: VizState, batch: Prediction[], config: VizConfig, now = Date.now(), kind?: OutputKind): VizState {
  const recent = state.recent.slice();
  let skipped = state.skipped;
  let total = state.total;
  let lastVersion = state.lastVersion;
  for (const p of batch) {
    const vector = toVector(p.values);
    const probs = toProbabilities(vector, kind);
    const cls = classOf(probs);
    if (cls === null) {
      skipped++;
      continue;
    }
    total++;
    const confidence = probs.length === 1 ? (cls === 1 ? probs[0] : 1 - probs[0]) : probs[cls];
    if (p.model_version != null) lastVersion = p.model_version;
    recent.push({ cls, confidence, vector, probs, at: p.timestamp ?? now, version: p.model_version ?? null });
  }
  const overflow = recent.length - config.average_window;
  if (overflow > 0) recent.splice(0, overflow);
  return { total, recent, skipped, lastVersion };
}

export interface ClassCount {
  id: number;
  label: string;
  color: string;
  count: number;
  share: number;
}

export function labelFor(config: VizConfig, id: number): VizLabel {
  return config.labels.find((l) => l.id === id) ?? { id, label: String(id), color: colorFor(id) };
}

/** Per-class counts over the window: every configured label, plus any class seen but not configured. */
export function classCounts(state: VizState, config: VizConfig): ClassCount[] {
  const counts = new Map<number, number>();
  for (const l of config.labels) counts.set(l.id, 0);
  for (const p of state.recent) counts.set(p.cls, (counts.get(p.cls) ?? 0) + 1);
  const n = state.recent.length || 1;
  return [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([id, count]) => {
      const l = labelFor(config, id);
      return { id, label: l.label, color: l.color, count, share: count / n };
    });
}

/** Mean of the output probabilities over the window. */
export function averageVector(state: VizState): number[] {
  if (!state.recent.length) return [];
  const width = Math.max(...state.recent.map((p) => (p.probs ?? p.vector).length));
  const sum = new Array<number>(width).fill(0);
  for (const p of state.recent) (p.probs ?? p.vector).forEach((v, i) => (sum[i] += v));
  return sum.map((s) => s / state.recent.length);
}

/** The class the page headlines. */
export function currentClass(state: VizState, config: VizConfig): { cls: number; confidence: number } | null {
  if (!state.recent.length) return null;
  if (config.average_updated) {
    const avg = averageVector(state);
    const cls = classOf(avg);
    if (cls === null) return null;
    return { cls, confidence: avg.length === 1 ? (cls === 1 ? avg[0] : 1 - avg[0]) : avg[cls] };
  }
  const last = state.recent[state.recent.length - 1];
  return { cls: last.cls, confidence: last.confidence };
}

/** Regression: one series per output over the window — x is the prediction number. */
export function regressionSeries(state: VizState): { x: number[]; series: number[][] } {
  const width = state.recent.length ? Math.max(...state.recent.map((p) => p.vector.length)) : 0;
  const start = state.total - state.recent.length + 1;
  const x = state.recent.map((_, i) => start + i);
  const series = Array.from({ length: width }, (_, j) => state.recent.map((p) => p.vector[j] ?? NaN));
  return { x, series };
}
