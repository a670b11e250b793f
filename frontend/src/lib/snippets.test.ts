import { describe, expect, it } from 'vitest';
import { cliSnippet, kwargsPayload, kwargsProblem, kwargsToText, pythonSnippet } from './snippets';
import { templatesFor } from './templates';
import { epochCharts, mergeEpoch, confusion } from './metrics';
import { pickItems } from './chains';
import type { MLModel } from './types';

describe('send-data snippets', () => {
  it('fills in deployment id, topic and servers', () => {
    const s = { deploymentId: 7, topic: 'kafkaml-train-7', bootstrapServers: 'localhost:9190' };
    expect(pythonSnippet(s)).toContain('deployment_id=7');
    expect(pythonSnippet(s)).toContain('topic="kafkaml-train-7"');
    expect(pythonSnippet(s)).toContain('bootstrap_servers="localhost:9190"');
    expect(cliSnippet(s)).toContain('--deployment-id 7');
  });
});

describe('kwargs', () => {
  it('passes text through and parses JSON objects', () => {
    expect(kwargsPayload('epochs=5, shuffle=True')).toBe('epochs=5, shuffle=True');
    expect(kwargsPayload('{"epochs": 5}')).toEqual({ epochs: 5 });
    expect(kwargsPayload('  ')).toEqual({});
  });
  it('flags obvious slips', () => {
    expect(kwargsProblem('epochs=5, shuffle=True')).toBeNull();
    expect(kwargsProblem('epochs=5, callbacks=[1, 2]')).toBeNull();
    expect(kwargsProblem('epochs 5')).toMatch(/name=value/);
    expect(kwargsProblem('{"epochs": }')).toMatch(/JSON/);
    expect(kwargsProblem('[1]')).toMatch(/name=value/);
  });
  it('shows stored kwargs as text', () => {
    expect(kwargsToText({ epochs: 5, shuffle: true, name: 'a' })).toBe('epochs=5, shuffle=True, name="a"');
  });
});

describe('templates', () => {
  it('reads the list the API answers', () => {
    const data = [
      { name: 'keras-mnist', title: 'Keras MNIST', framework: 'tensorflow', imports: 'import tensorflow as tf', code: 'model = 1' },
      { name: 'torch', framework: 'pytorch', imports: '', code: 'x' },
    ];
    expect(templatesFor(data, 'tensorflow')).toEqual([{ name: 'Keras MNIST', imports: 'import tensorflow as tf', code: 'model = 1', description: undefined }]);
    expect(templatesFor(data, 'pytorch')).toHaveLength(1);
  });
  it('reads a per-framework object', () => {
    expect(templatesFor({ tensorflow: { imports: 'a', code: 'b' } }, 'tensorflow')[0].code).toBe('b');
  });
});

describe('epoch charts', () => {
  it('pairs a metric with its validation twin', () => {
    const charts = epochCharts([{ epoch: 2, loss: 0.5, val_loss: 0.6, accuracy: 0.8 }, { epoch: 1, loss: 1, val_loss: 1.1, accuracy: 0.5 }]);
    expect(charts.map((c) => c.name)).toEqual(['loss', 'accuracy']);
    expect(charts[0].x).toEqual([1, 2]);
    expect(charts[0].series.map((s) => s.label)).toEqual(['train loss', 'validation loss']);
    expect(charts[0].series[1].values).toEqual([1.1, 0.6]);
  });
  it('merges a pushed epoch', () => {
    expect(mergeEpoch([{ epoch: 1, loss: 1 }], { epoch: 1, loss: 0.9 })).toEqual([{ epoch: 1, loss: 0.9 }]);
    expect(mergeEpoch([{ epoch: 1 }], { epoch: 2 }).map((e) => e.epoch)).toEqual([1, 2]);
  });
  it('reads confusion matrices', () => {
    expect(confusion([[1, 2], [3, 4]])?.matrix).toEqual([[1, 2], [3, 4]]);
    expect(confusion({ matrix: [[1]], labels: ['a'] })?.labels).toEqual(['a']);
    expect(confusion(null)).toBeNull();
  });
});

describe('configuration picker', () => {
  const m = (id: number, extra: Partial<MLModel> = {}) => ({ id, name: `m${id}`, framework: 'tensorflow', distributed: false, upper_model: null, ...extra }) as MLModel;
  it('shows a distributed chain as one item', () => {
    const items = pickItems([m(1), m(2, { distributed: true }), m(3, { distributed: true, upper_model: 2 }), m(4, { distributed: true, upper_model: 3 })]);
    expect(items).toHaveLength(2);
    const chain = items.find((i) => i.members.length === 3)!;
    expect(chain.label).toBe('Chain: m4 → m3 → m2');
    expect(chain.id).toBe(4);
  });
});
