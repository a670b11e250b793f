import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RUNS_QUERY,
  bestIndex,
  metricsRows,
  overlayCurves,
  paramDiff,
  parseIds,
  parseTags,
  queryFromParams,
  queryToParams,
  runsUrl,
  toggleSort,
} from './runs';
import type { Provenance } from './types';

const prov = (settings: Record<string, unknown>, datasource: Provenance['datasource'] = null): Provenance => ({
  model_version: null,
  datasource,
  settings,
  seed: null,
});

describe('runs query', () => {
  it('asks the server to sort, filter and page', () => {
    const url = runsUrl({
      ...DEFAULT_RUNS_QUERY,
      sort: 'test_accuracy',
      desc: true,
      search: ' dense ',
      tag: 'best',
      status: 'finished',
      page: 2,
    });
    const params = new URL(url, 'http://x').searchParams;
    expect(url.startsWith('/api/v1/runs/?')).toBe(true);
    expect(params.get('ordering')).toBe('-test_accuracy');
    expect(params.get('search')).toBe('dense');
    expect(params.get('tag')).toBe('best');
    expect(params.get('status')).toBe('finished');
    expect(params.get('framework')).toBeNull();
    expect(params.get('page')).toBe('2');
  });

  it('sorts a new column best first and flips the current one', () => {
    const byAcc = toggleSort({ ...DEFAULT_RUNS_QUERY, page: 3 }, 'test_accuracy');
    expect([byAcc.sort, byAcc.desc, byAcc.page]).toEqual(['test_accuracy', true, 1]);
    expect(toggleSort(byAcc, 'test_accuracy').desc).toBe(false);
    const byLoss = toggleSort(byAcc, 'test_loss');
    expect([byLoss.sort, byLoss.desc]).toEqual(['test_loss', false]);
  });

  it('round-trips through the address bar', () => {
    const q = { ...DEFAULT_RUNS_QUERY, sort: 'batch_size' as const, desc: false, tag: 'sweep', page: 2 };
    const back = queryFromParams(new URLSearchParams(queryToParams(q)));
    expect(back).toEqual(q);
    expect(queryToParams(DEFAULT_RUNS_QUERY)).toEqual({});
  });

  it('parses tags and comparison ids', () => {
    expect(parseTags('best, lr sweep ,best,,')).toEqual(['best', 'lr-sweep']);
    expect(parseIds('3,5,x,3,-1,9')).toEqual([3, 5, 9]);
    expect(parseIds(null)).toEqual([]);
  });
});

describe('compare runs', () => {
  const a = {
    id: 1,
    model_name: 'm',
    framework: 'tensorflow' as const,
    model_version: 1,
    seed: 7,
    provenance: prov({ batch_size: 32, optimizer: 'adam', training_kwargs: { epochs: 3 }, incremental: false, window_size: 1000 }),
  };
  const b = {
    id: 2,
    model_name: 'm',
    framework: 'tensorflow' as const,
    model_version: 2,
    seed: 7,
    provenance: prov({ batch_size: 64, optimizer: 'adam', training_kwargs: { epochs: 3, shuffle: true } }),
  };

  it('diffs the parameters and marks the rows that differ', () => {
    const rows = Object.fromEntries(paramDiff([a, b]).map((r) => [r.name, r]));
    expect(rows['Batch size']).toEqual({ name: 'Batch size', values: ['32', '64'], differs: true });
    expect(rows.Optimizer.differs).toBe(false);
    expect(rows['Window size']).toBeUndefined(); // incremental-only, no run is incremental
    expect(rows['fit: epochs'].differs).toBe(false);
    expect(rows['fit: shuffle']).toEqual({ name: 'fit: shuffle', values: ['—', 'true'], differs: true });
    expect(rows['model version'].values).toEqual(['v1', 'v2']);
    expect(rows.seed.differs).toBe(false);
  });

  it('tabulates final metrics and marks the best run per metric', () => {
    const rows = metricsRows([
      { test_metrics: { accuracy: 0.8, loss: 0.5 }, val_metrics: {}, train_metrics: {}, training_time: 12 },
      { test_metrics: { accuracy: 0.9, loss: 0.7 }, val_metrics: {}, train_metrics: {}, training_time: 9 },
    ]);
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(byName['test accuracy']).toEqual({ name: 'test accuracy', values: [0.8, 0.9], best: 1 });
    expect(byName['test loss'].best).toBe(0);
    expect(byName['training time (s)'].best).toBe(1);
    expect(bestIndex('accuracy', [0.5, null])).toBeNull();
  });

  it('overlays every run on one chart per metric', () => {
    const charts = overlayCurves([
      {
        id: 1,
        epoch_metrics: [
          { epoch: 1, loss: 1, val_loss: 1.2 },
          { epoch: 2, loss: 0.5 },
        ],
      },
      {
        id: 2,
        epoch_metrics: [
          { epoch: 1, loss: 0.9, accuracy: 0.6 },
          { epoch: 2, loss: 0.4 },
          { epoch: 3, loss: 0.3 },
        ],
      },
    ]);
    expect(charts.map((c) => c.name)).toEqual(['loss', 'accuracy']);
    const loss = charts[0];
    expect(loss.x).toEqual([1, 2, 3]);
    expect(loss.series.map((s) => s.label)).toEqual(['#1 train', '#1 validation', '#2 train']);
    expect(loss.series[0].values).toEqual([1, 0.5, null]);
    expect(loss.series[1].validation).toBe(true);
    expect(charts[1].series.map((s) => s.run)).toEqual([2]);
  });
});
