import { describe, expect, it } from 'vitest';
import {
  addPredictions,
  averageVector,
  classCounts,
  classOf,
  currentClass,
  defaultConfig,
  emptyState,
  parseConfig,
  regressionSeries,
  toProbabilities,
  toVector,
  type Prediction,
} from './viz';

const p = (values: unknown, v: number | null = 1) => ({ values, model_version: v });

describe('parseConfig', () => {
  it('gives a sensible default when empty', () => {
    const { config, errors } = parseConfig('', 3);
    expect(errors).toEqual([]);
    expect(config.type).toBe('classification');
    expect(config.labels.map((l) => l.label)).toEqual(['0', '1', '2']);
    expect(config.average_window).toBeGreaterThan(0);
    expect(config.average_updated).toBe(false);
  });

  it('reads a full configuration', () => {
    const { config, errors } = parseConfig(
      JSON.stringify({ type: 'regression', labels: [{ id: 0, label: 'price', color: '#f00' }], average_window: 50, average_updated: true }),
    );
    expect(errors).toEqual([]);
    expect(config).toEqual({
      type: 'regression',
      labels: [{ id: 0, label: 'price', color: '#f00' }],
      average_window: 50,
      average_updated: true,
    });
  });

  it('fills missing label fields and reports wrong values without throwing', () => {
    const { config, errors } = parseConfig('{"type": "pie", "labels": [{"id": 4}], "average_window": -1, "average_updated": "yes"}', 2);
    expect(config.type).toBe('classification');
    expect(config.labels).toHaveLength(1);
    expect(config.labels[0].label).toBe('4');
    expect(config.labels[0].color).toMatch(/^#/);
    expect(errors).toHaveLength(3);
  });

  it('reports invalid JSON', () => {
    const { config, errors } = parseConfig('{oops', 2);
    expect(errors[0]).toMatch(/Not valid JSON/);
    expect(config.labels).toHaveLength(2);
  });
});

describe('vectors and classes', () => {
  it('flattens nested values', () => {
    expect(toVector([[0.1, 0.9]])).toEqual([0.1, 0.9]);
    expect(toVector(0.3)).toEqual([0.3]);
    expect(toVector('x')).toEqual([]);
  });
  it('argmax, and a single sigmoid output at 0.5', () => {
    expect(classOf([0.1, 0.7, 0.2])).toBe(1);
    expect(classOf([0.7])).toBe(1);
    expect(classOf([0.2])).toBe(0);
    expect(classOf([])).toBeNull();
  });
});

describe('classification state', () => {
  const config = { ...defaultConfig(3), average_window: 4 };

  it('keeps only the window and counts per class', () => {
    let s = emptyState();
    s = addPredictions(s, [p([0.9, 0.05, 0.05]), p([0.1, 0.8, 0.1]), p([0.1, 0.8, 0.1])], config);
    s = addPredictions(s, [p([0, 0, 1]), p([0, 0, 1]), p('bad')], config);
    expect(s.total).toBe(5);
    expect(s.skipped).toBe(1);
    expect(s.recent).toHaveLength(4);
    const counts = classCounts(s, config);
    expect(counts.map((c) => [c.id, c.count])).toEqual([
      [0, 0],
      [1, 2],
      [2, 2],
    ]);
    expect(counts[1].share).toBeCloseTo(0.5);
  });

  it('headlines the latest prediction or the window average', () => {
    let s = emptyState();
    s = addPredictions(s, [p([0.1, 0.9, 0]), p([0.1, 0.9, 0]), p([0.6, 0.4, 0])], config);
    expect(currentClass(s, config)?.cls).toBe(0);
    expect(currentClass(s, { ...config, average_updated: true })?.cls).toBe(1);
    expect(averageVector(s)[1]).toBeCloseTo(2.2 / 3);
  });

  it('includes classes seen but not configured', () => {
    const s = addPredictions(emptyState(), [p([0, 0, 0, 0, 1])], config);
    expect(classCounts(s, config).map((c) => c.id)).toEqual([0, 1, 2, 4]);
  });

  it('tracks the model version', () => {
    const s = addPredictions(emptyState(), [p([1, 0], 3)], config);
    expect(s.lastVersion).toBe(3);
  });
});

describe('confidences of a model that outputs logits (issue 13, 5)', () => {
  const config = defaultConfig(3);
  const p = (values: unknown): Prediction => ({ values });

  it('turns logits into probabilities: every confidence within [0, 1]', () => {
    // the PyTorch template's raw outputs once read "confidence 1033.3%" and "-378.4%"
    const s = addPredictions(emptyState(), [p([10.333, -3.784, 1.2]), p([-3.784, -5, -4])], config);
    for (const point of s.recent) {
      expect(point.confidence).toBeGreaterThanOrEqual(0);
      expect(point.confidence).toBeLessThanOrEqual(1);
      expect(point.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
    }
    expect(s.recent[0].cls).toBe(0);
    expect(s.recent[0].confidence).toBeCloseTo(Math.exp(10.333) / (Math.exp(10.333) + Math.exp(-3.784) + Math.exp(1.2)));
    expect(s.recent[0].vector).toEqual([10.333, -3.784, 1.2]); // kept raw for regression charts
    const cur = currentClass(s, { ...config, average_updated: true });
    expect(cur!.confidence).toBeGreaterThan(0);
    expect(cur!.confidence).toBeLessThanOrEqual(1);
  });

  it('follows the artifact: logits even when they fall in [0, 1], probabilities as they are', () => {
    expect(toProbabilities([0.2, 0.9], 'logits')[1]).toBeCloseTo(Math.exp(0.9) / (Math.exp(0.2) + Math.exp(0.9)));
    expect(toProbabilities([0.2, 0.8], 'probabilities')).toEqual([0.2, 0.8]);
    expect(toProbabilities([0.2, 0.8])).toEqual([0.2, 0.8]);
    expect(toProbabilities([2.5])[0]).toBeCloseTo(1 / (1 + Math.exp(-2.5)));
  });
});

describe('regression series', () => {
  it('one line per output, x numbered across the window', () => {
    const config = { ...defaultConfig(2, 'regression'), average_window: 2 };
    let s = emptyState();
    s = addPredictions(s, [p([1, 10]), p([2, 20]), p([3, 30])], config);
    const { x, series } = regressionSeries(s);
    expect(x).toEqual([2, 3]);
    expect(series).toEqual([
      [2, 3],
      [20, 30],
    ]);
  });
});
