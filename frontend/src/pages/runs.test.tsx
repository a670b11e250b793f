import { describe, expect, it, vi, afterEach } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { RunsTable } from './Runs';
import RunAnnotations from '../components/RunAnnotations';
import { CompareView } from './Compare';
import Provenance from '../components/Provenance';
import { DEFAULT_RUNS_QUERY } from '../lib/runs';
import type { Run, TrainingResult } from '../lib/types';

vi.mock('../components/LineChart', () => ({
  default: ({ series }: { series: { label: string }[] }) => <div data-testid="chart">{series.map((s) => s.label).join('|')}</div>,
}));

const run = (id: number, over: Partial<Run> = {}): Run => ({
  id,
  deployment: 1,
  model: 1,
  model_name: `m${id}`,
  model_version: 1,
  framework: 'tensorflow',
  chain_leader: null,
  status: 'finished',
  tags: [],
  note: '',
  batch_size: 32,
  epochs: 3,
  epochs_reported: 3,
  optimizer: 'adam',
  learning_rate: 0.001,
  test_accuracy: 0.9,
  test_loss: 0.3,
  val_accuracy: null,
  val_loss: null,
  test_metrics: {},
  training_time: 10,
  seed: 1,
  created_at: '',
  ...over,
});

afterEach(() => vi.restoreAllMocks());

describe('runs table', () => {
  it('shows metric and parameter columns and sorts by a clicked header', () => {
    const onSort = vi.fn();
    render(
      <MemoryRouter>
        <RunsTable
          runs={[run(1, { tags: ['best'] }), run(2, { test_accuracy: null })]}
          query={{ ...DEFAULT_RUNS_QUERY, sort: 'test_accuracy', desc: true }}
          onSort={onSort}
          selected={[]}
          onSelect={vi.fn()}
          onSaved={vi.fn()}
        />
      </MemoryRouter>,
    );
    const header = screen.getByRole('columnheader', { name: /Test accuracy/ });
    expect(header.getAttribute('aria-sort')).toBe('descending');
    expect(header.textContent).toContain('▼');
    fireEvent.click(screen.getByRole('button', { name: /Batch size/ }));
    expect(onSort).toHaveBeenCalledWith('batch_size');
    const row = screen.getByTestId('run-2');
    expect(within(row).getAllByText('—').length).toBeGreaterThan(0);
    expect(within(screen.getByTestId('run-1')).getByText('best')).toBeTruthy();
  });

  it('ticks runs for comparison', () => {
    const onSelect = vi.fn();
    render(
      <MemoryRouter>
        <RunsTable runs={[run(4)]} query={DEFAULT_RUNS_QUERY} onSort={vi.fn()} selected={[]} onSelect={onSelect} onSaved={vi.fn()} />
      </MemoryRouter>,
    );
    fireEvent.click(screen.getByLabelText('Compare run 4'));
    expect(onSelect).toHaveBeenCalledWith(4, true);
  });

  it('saves tags and a note with PATCH', async () => {
    const fetchMock = vi
      .fn()
      .mockResolvedValue(new Response(JSON.stringify({ id: 4, tags: ['best', 'lr-sweep'], note: 'wide' }), { status: 200 }));
    vi.stubGlobal('fetch', fetchMock);
    document.cookie = 'csrftoken=t';
    const onSaved = vi.fn();
    render(<RunAnnotations run={{ id: 4, tags: [], note: '' }} onSaved={onSaved} />);
    fireEvent.click(screen.getByRole('button', { name: /Edit tags and note of run 4/ }));
    fireEvent.change(screen.getByLabelText('Tags of run 4'), { target: { value: 'best, lr sweep' } });
    fireEvent.change(screen.getByLabelText('Note of run 4'), { target: { value: 'wide' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(onSaved).toHaveBeenCalledWith({ tags: ['best', 'lr-sweep'], note: 'wide' }));
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe('/api/v1/results/4/');
    expect(init.method).toBe('PATCH');
    expect(JSON.parse(init.body)).toEqual({ tags: ['best', 'lr-sweep'], note: 'wide' });
    vi.unstubAllGlobals();
  });
});

const result = (id: number, over: Partial<TrainingResult>): TrainingResult => ({
  id,
  deployment: 1,
  model: 1,
  model_name: 'digits',
  framework: 'tensorflow',
  chain_leader: null,
  status: 'finished',
  status_history: [],
  epoch_metrics: [
    { epoch: 1, loss: 1 },
    { epoch: 2, loss: 0.5 },
  ],
  train_metrics: {},
  val_metrics: {},
  test_metrics: { accuracy: 0.9 },
  confusion_matrix: null,
  training_time: 5,
  seed: 42,
  error: '',
  log_tail: '',
  artifacts: [],
  created_at: '',
  updated_at: '',
  model_version: 1,
  provenance: {
    model_version: {
      number: 1,
      framework: 'tensorflow',
      imports: 'import tensorflow as tf',
      code: 'model = build()',
      created_at: '2026-01-01T00:00:00Z',
    },
    datasource: {
      id: 9,
      deployment: 1,
      deployment_key: 1,
      topic: 'alice.digits',
      input_format: 'RAW',
      input_config: {},
      description: '',
      validation_rate: 0.1,
      test_rate: 0.1,
      total_msg: 1797,
      incremental: false,
      unsupervised_topic: null,
      dataset_restrictions: null,
      created_at: '',
    },
    settings: { batch_size: 32, optimizer: 'adam', training_kwargs: { epochs: 2 }, incremental: false, window_size: 1000, seed: null },
    seed: 42,
  },
  ...over,
});

describe('compare view', () => {
  it('overlays curves and highlights the parameters that differ', () => {
    const second = result(2, {
      test_metrics: { accuracy: 0.95 },
      provenance: { ...result(2, {}).provenance!, settings: { batch_size: 64, optimizer: 'adam', training_kwargs: { epochs: 2 } } },
    });
    render(
      <MemoryRouter>
        <CompareView results={[result(1, {}), second]} />
      </MemoryRouter>,
    );
    expect(screen.getByTestId('compare-chart-loss').textContent).toContain('#1 train|#2 train');
    const params = screen.getByTestId('compare-params');
    const batch = within(params).getByText('Batch size').closest('tr')!;
    expect(batch.className).toContain('differs');
    const optimizer = within(params).getByText('Optimizer').closest('tr')!;
    expect(optimizer.className).not.toContain('differs');
    const acc = within(screen.getByTestId('compare-metrics')).getByText('test accuracy').closest('tr')!;
    expect(acc.querySelector('td.best')?.textContent).toBe('0.95');
  });
});

describe('provenance', () => {
  it('shows the code version, datasource, settings and seed, and the code on demand', () => {
    render(<Provenance r={result(1, {})} />);
    expect(screen.getByTestId('provenance-version').textContent).toContain('v1');
    expect(screen.getByTestId('provenance-datasource').textContent).toContain('alice.digits');
    expect(screen.getByTestId('provenance-datasource').textContent).toContain('1,797 records');
    expect(screen.getByTestId('provenance-seed').textContent).toBe('42');
    expect(screen.getByText('Batch size').nextElementSibling?.textContent).toBe('32');
    expect(screen.getByText('Fit arguments').nextElementSibling?.textContent).toBe('{"epochs":2}');
    expect(screen.queryByText('Window size')).toBeNull(); // incremental-only, on a batch run
    expect(screen.getByLabelText('Model code').textContent).toBe('model = build()');
  });

  it('says when a result predates versions', () => {
    render(<Provenance r={result(1, { seed: null, provenance: { model_version: null, datasource: null, settings: {}, seed: null } })} />);
    expect(screen.getByTestId('provenance-version').textContent).toMatch(/not recorded/);
    expect(screen.getByTestId('provenance-datasource').textContent).toMatch(/none registered/);
    expect(screen.queryByTestId('provenance-code')).toBeNull();
  });
});
