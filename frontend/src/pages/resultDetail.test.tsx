import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import ResultDetail, { extraDownloads, missingFinalText, shownStatus, tfliteRows } from './ResultDetail';
import DeploymentDetail, { incrementalText, semiSupervisedText } from './DeploymentDetail';

const sockets = vi.hoisted(() => ({ paths: [] as (string | null)[], state: 'open' }));
vi.mock('../lib/socket', () => ({
  useSocket: (path: string | null) => {
    sockets.paths.push(path);
    return sockets.state;
  },
}));
vi.mock('../components/LineChart', () => ({ default: () => null }));
vi.mock('../components/SendData', () => ({ default: () => null }));

function answer(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

const result = (extra: Record<string, unknown>) => ({
  id: 4,
  deployment: 2,
  model: 1,
  model_name: 'digits',
  framework: 'tensorflow',
  chain_leader: null,
  status: 'deployed',
  status_history: [],
  epoch_metrics: [],
  train_metrics: {},
  val_metrics: {},
  test_metrics: {},
  confusion_matrix: null,
  training_time: null,
  seed: 1,
  error: '',
  log_tail: '',
  artifacts: [],
  planned_epochs: 40,
  created_at: '',
  updated_at: '',
  ...extra,
});

function serve(body: unknown, status = 200) {
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => answer(status, body)),
  );
}

function renderAt(path: string) {
  render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/results/:id" element={<ResultDetail />} />
        <Route path="/deployments/:id" element={<DeploymentDetail />} />
      </Routes>
    </MemoryRouter>,
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
  sockets.paths = [];
  sockets.state = 'open';
});

describe('result page', () => {
  it('shows epochs against the planned total and says "training" while epochs arrive', async () => {
    const epochs = Array.from({ length: 7 }, (_, i) => ({ epoch: i + 1, loss: 1 / (i + 1) }));
    serve(result({ epoch_metrics: epochs }));
    renderAt('/results/4');
    expect((await screen.findByTestId('epochs-reported')).textContent).toBe('7 / 40');
    expect(screen.getByTestId('result-status').textContent).toBe('training');
    expect(shownStatus({ status: 'deployed', epoch_metrics: [] })).toBe('deployed');
  });

  it('polls while the websocket cannot connect, so progress still shows', async () => {
    sockets.state = 'failing';
    const fetch = vi.fn(async () => answer(200, result({})));
    vi.stubGlobal('fetch', fetch);
    renderAt('/results/4');
    await screen.findByTestId('epochs-reported');
    await waitFor(() => expect(fetch.mock.calls.length).toBeGreaterThan(1), { timeout: 5000 });
  });

  it('reads a stopped result as stopped, not as missing settings', async () => {
    serve(
      result({
        status: 'stopped',
        epoch_metrics: [
          { epoch: 1, loss: 1 },
          { epoch: 2, loss: 0.5 },
        ],
      }),
    );
    renderAt('/results/4');
    expect((await screen.findByTestId('no-final-metrics')).textContent).toBe('Stopped before the end; no final metrics.');
    expect(screen.getByTestId('no-confusion').textContent).toMatch(/^Stopped before the end/);
    expect(screen.getByTestId('stopped').textContent).toMatch(/after 2 epochs/);
    expect(screen.queryByText(/appear when training finishes/)).toBeNull();
    expect(screen.queryByText(/enable it/)).toBeNull();
    expect(missingFinalText('finished', 'confusion')).toMatch(/Not computed/);
  });

  it('a result that does not exist opens no websocket and links back', async () => {
    serve({ detail: 'Not found.' }, 404);
    renderAt('/results/999');
    expect((await screen.findByTestId('not-found')).textContent).toMatch(/Result #999 was not found/);
    expect(screen.getByRole('link', { name: 'Back to deployments' }).getAttribute('href')).toBe('/deployments');
    expect(sockets.paths.every((p) => p === null)).toBe(true);
  });

  it('links every exported format and shows the TFLite accuracies beside the float model', async () => {
    const metadata = {
      files: { native: 'model.keras', onnx: 'model.onnx', h5: 'model.h5', tflite: 'model.tflite', tflite_int8: 'model_int8.tflite' },
      tflite: {
        tflite: { file: 'model.tflite', bytes: 10240, test_accuracy: 0.9554 },
        tflite_int8: { file: 'model_int8.tflite', bytes: 5120, test_accuracy: 0.9526 },
      },
    };
    serve(
      result({
        status: 'finished',
        test_metrics: { accuracy: 0.9554 },
        artifacts: [{ version: 1, metadata, metrics: {}, created_at: '' }],
      }),
    );
    renderAt('/results/4');
    const table = await screen.findByTestId('tflite-accuracy');
    expect(table.textContent).toMatch(/Keras \(float\)0\.9554/);
    expect(table.textContent).toMatch(/TFLite int80\.9526/);
    expect(screen.getByRole('link', { name: 'TensorFlow Lite (int8)' }).getAttribute('href')).toBe(
      '/api/v1/results/4/download/?kind=tflite_int8',
    );
    expect(screen.getByRole('link', { name: 'Keras .h5' }).getAttribute('href')).toBe('/api/v1/results/4/download/?kind=h5');
    expect(screen.queryByRole('link', { name: 'PyTorch state_dict' })).toBeNull();
    expect(extraDownloads({ files: { state_dict: 'model_state_dict.pt' } })).toEqual([['state_dict', 'PyTorch state_dict']]);
    expect(tfliteRows({ tflite: { tflite: { file: null, error: 'ConverterError: x' } } })).toEqual([
      { label: 'TFLite float', accuracy: null, size: null, error: 'ConverterError: x' },
    ]);
    expect(tfliteRows({})).toEqual([]);
  });

  it('shows each pseudo-labelling round: samples pseudo-labelled and accuracy after it', async () => {
    serve(
      result({
        status: 'finished',
        pseudo_labelling: [
          { round: 1, pseudo_labelled: 1200, accuracy: 0.8812, metrics: { accuracy: 0.95, val_accuracy: 0.8812 } },
          { round: 2, pseudo_labelled: 0, accuracy: null, metrics: {} },
        ],
      }),
    );
    renderAt('/results/4');
    const table = await screen.findByTestId('pseudo-labelling');
    const rows = [...table.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    expect(rows).toEqual([
      ['1', '1200', '0.8812'],
      ['2', '0', '—'],
    ]);
  });

  it('an ordinary run has no pseudo-labelling table', async () => {
    serve(result({ status: 'finished', pseudo_labelling: [] }));
    renderAt('/results/4');
    await screen.findByTestId('epochs-reported');
    expect(screen.queryByTestId('pseudo-labelling')).toBeNull();
  });

  it('a federated result shows its federation: sites with samples, refused with the reason, late, dropped, per round', async () => {
    serve(
      result({
        status: 'finished',
        epoch_metrics: [
          { epoch: 1, metrics: { loss: 0.9, round: 1, rounds: 2, sites: 2, dropped: 0, samples: 1000 } },
          { epoch: 2, metrics: { loss: 0.5, round: 2, rounds: 2, sites: 1, dropped: 1, samples: 600 } },
        ],
        federation: {
          strategy: 'fedprox',
          rounds: 2,
          sites: [
            { site: 'datasource-1', samples: 600 },
            { site: 'datasource-2', samples: 400 },
          ],
          refused: [{ site: 'datasource-3', reason: 'framework pytorch != tensorflow' }],
          late: [],
          dropped: [{ site: 'datasource-2', round: 2 }],
          round_samples: [
            { round: 1, samples: { 'datasource-1': 600, 'datasource-2': 400 } },
            { round: 2, samples: { 'datasource-1': 0 } },
          ],
        },
      }),
    );
    renderAt('/results/4');
    const section = await screen.findByTestId('federation');
    const cells = (table: Element) =>
      [...table.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    const rows = cells(within(section).getByTestId('federation-sites'));
    expect(rows).toEqual([
      ['datasource-1', '600', 'took part'],
      ['datasource-2', '400', 'took part; dropped in round 2 (no answer)'],
      ['datasource-3', '—', 'refused: framework pytorch != tensorflow'],
    ]);
    expect(screen.getByTestId('federation-overview').textContent).toBe('fedprox · 2 rounds · 2 sites took part with 1,000 samples');
    expect(screen.getByTestId('federation-dropped').textContent).toBe('Dropped per round: round 2: datasource-2');
    expect(cells(within(section).getByTestId('federation-rounds'))).toEqual([
      ['1', '600', '400'],
      ['2', 'skipped (no new records)', '—'],
    ]);
    expect(screen.getByTestId('federated-round').textContent).toBe('Round 2 / 2');
  });

  it('an ordinary run has no federation section', async () => {
    serve(result({ status: 'finished', federation: null }));
    renderAt('/results/4');
    await screen.findByTestId('epochs-reported');
    expect(screen.queryByTestId('federation')).toBeNull();
  });

  it('the deployment page says how an incremental and a semi-supervised deployment train', () => {
    const base = {
      incremental: true,
      incremental_mode: 'time_limited' as const,
      stream_timeout: 30,
      window_size: 500,
      monitored_metric: 'val_accuracy',
      improvement: 0.01,
      change: 'up' as const,
      unsupervised_rounds: 3,
      confidence_threshold: 0.8,
    };
    expect(incrementalText(base)).toBe(
      'time-limited: ends after 30 s without data; windows of 500 records or 30 s; a new version when val_accuracy improves by ≥ 0.01 (higher is better)',
    );
    expect(incrementalText({ ...base, incremental_mode: 'indefinite', change: 'auto' })).toMatch(
      /^indefinite: until stopped;.*\(direction from its name\)$/,
    );
    expect(incrementalText({ ...base, incremental: false })).toBeNull();
    expect(semiSupervisedText(base)).toBe('3 pseudo-labelling rounds, confidence ≥ 0.8');
    expect(semiSupervisedText({ ...base, unsupervised_rounds: 0 })).toBeNull();
  });

  it('a deployment that does not exist is a proper not-found page with a way back', async () => {
    serve({ detail: 'Not found.' }, 404);
    renderAt('/deployments/999');
    expect((await screen.findByTestId('not-found')).textContent).toMatch(/Deployment #999 was not found/);
    expect(screen.getByRole('link', { name: 'Back to deployments' })).toBeTruthy();
  });
});
