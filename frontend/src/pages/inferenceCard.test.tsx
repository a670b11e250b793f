import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import type { Inference, TrainingResult } from '../lib/types';

vi.mock('../lib/kafkaAccess', () => ({
  useKafkaAccess: () => ({ access: { topic_prefix: 'alice.' }, fromServer: true, error: null, loading: false }),
}));

const { InferenceCard, isCrashing, otherVersions } = await import('./Inferences');

const artifact = (version: number) => ({ version, metadata: {}, metrics: {}, created_at: '' });
const result = (id: number, model: number, versions: number[]) =>
  ({ id, model, status: 'finished', artifacts: versions.map(artifact) }) as unknown as TrainingResult;
const base = {
  id: 4,
  result: 10,
  serving_result: 10,
  model_name: 'Digits',
  model_version: 1,
  replicas: 2,
  input_format: 'RAW',
  input_config: {},
  input_topic: 'alice.in',
  output_topic: 'alice.out',
  upper_topic: '',
  limit: null,
  batch_size: 256,
  max_wait_ms: 20,
  runtime: 'onnx',
  status: 'running',
  status_history: [],
  error: '',
  swap_history: [],
  created_at: '',
  live: {
    replicas_reporting: 2,
    records_in_per_s: 5,
    records_out_per_s: 5,
    records_in: 10,
    records_out: 10,
    errors: 0,
    lag: 0,
    latency_ms: { p50: 1, p95: 2, p99: 3 },
  },
} as unknown as Inference;
const renderCard = (inf: Inference, results: TrainingResult[] = []) =>
  render(
    <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <InferenceCard initial={inf} results={results} highlight={false} onGone={() => {}} />
    </MemoryRouter>,
  );

describe('version picker (issue 13, 9)', () => {
  it('never lists the served version as another one', () => {
    const results = [result(10, 1, [1]), result(11, 1, [1, 2]), result(12, 2, [1])];
    expect(otherVersions(results, { serving_result: 10, model_version: 1 }).map((v) => v.label)).toEqual([
      'result #11 v1',
      'result #11 v2',
    ]);
    expect(otherVersions([result(10, 1, [1])], { serving_result: 10, model_version: 1 })).toEqual([]);
  });
});

describe('inference card', () => {
  it('after a swap names the result it serves now', () => {
    renderCard({ ...base, status: 'stopped', serving_result: 11, model_version: 2, model_name: 'Digits v2' });
    const title = screen.getByTestId('serving').textContent ?? '';
    expect(title).toContain('Digits v2');
    expect(title).toContain('result #11 v2');
    expect(title).toContain('swapped from result #10');
  });

  it('after Stop no replica is reporting', () => {
    renderCard({ ...base, status: 'stopped' });
    expect(screen.getByTestId('replicas-reporting').textContent).toBe('0 / 2');
  });

  it('a crashing inference shows crashing, its last error and a log viewer', () => {
    const error =
      'crashing: replica 0 exited with code 1; restarting in 8s (restarted 4 times)\nlast error: ValueError: expects records of shape (64,), the input topic carries (7, 7)';
    const inf = { ...base, status: 'failed', error } as Inference;
    expect(isCrashing(inf)).toBe(true);
    renderCard(inf);
    expect(screen.getByTestId('crashing').textContent).toBe('failed · crashing');
    expect(screen.queryByText('running')).toBeNull();
    expect(within(screen.getByTestId('inference-error')).getByText(/the input topic carries \(7, 7\)/)).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Show log' })).toBeTruthy();
  });

  it('a running card with one version says "No other version" and lists none', () => {
    const sockets = vi.fn();
    const original = globalThis.WebSocket;
    globalThis.WebSocket = class {
      constructor() {
        sockets();
      }
      close() {}
      addEventListener() {}
      removeEventListener() {}
    } as unknown as typeof WebSocket;
    try {
      renderCard(base, [result(10, 1, [1])]);
      const select = screen.getByLabelText('Model version') as HTMLSelectElement;
      expect([...select.options].map((o) => o.textContent)).toEqual(['No other version']);
    } finally {
      globalThis.WebSocket = original;
    }
  });
});
