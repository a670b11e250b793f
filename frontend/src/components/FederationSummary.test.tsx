import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/react';
import FederationSummary, { droppedPerRound, federationRows, roundSampleTable } from './FederationSummary';
import type { Federation } from '../lib/types';

// as GET /results/<id>/ answers for a federated result (backend test_federation_summary.py)
const federation: Federation = {
  strategy: 'fedavg',
  rounds: 3,
  sites: [
    { site: 'datasource-1', samples: 600 },
    { site: 'datasource-2', samples: 400 },
    { site: 'datasource-3', samples: 300 },
  ],
  refused: [{ site: 'datasource-4', reason: '40 samples < min_data 100' }],
  late: [{ site: 'datasource-5', samples: 500 }],
  dropped: [
    { site: 'datasource-3', round: 2 },
    { site: 'datasource-2', round: 3 },
  ],
  // a dropped site is absent from its round on; datasource-1 (online) had no new records in round 2
  round_samples: [
    { round: 1, samples: { 'datasource-1': 600, 'datasource-2': 400, 'datasource-3': 300 } },
    { round: 2, samples: { 'datasource-1': 0, 'datasource-2': 1200 } },
    { round: 3, samples: { 'datasource-1': 50 } },
  ],
};

describe('federation summary', () => {
  it('lists the sites that took part with their samples, then the refused and the late ones', () => {
    expect(federationRows(federation)).toEqual([
      { site: 'datasource-1', samples: 600, outcome: 'took part', kind: 'took-part' },
      { site: 'datasource-2', samples: 400, outcome: 'took part; dropped in round 3 (no answer)', kind: 'dropped' },
      { site: 'datasource-3', samples: 300, outcome: 'took part; dropped in round 2 (no answer)', kind: 'dropped' },
      { site: 'datasource-4', samples: null, outcome: 'refused: 40 samples < min_data 100', kind: 'refused' },
      { site: 'datasource-5', samples: 500, outcome: 'late: qualified after the join, not used', kind: 'late' },
    ]);
  });

  it('groups the dropped sites by round, in round order', () => {
    expect(droppedPerRound(federation)).toEqual(['round 2: datasource-3', 'round 3: datasource-2']);
    expect(droppedPerRound({ ...federation, dropped: [] })).toEqual([]);
  });

  it('tabulates the samples per round: sites as columns, 0 as skipped, a site without an answer as —', () => {
    expect(roundSampleTable(federation)).toEqual({
      sites: ['datasource-1', 'datasource-2', 'datasource-3'],
      rows: [
        { round: 1, cells: ['600', '400', '300'] },
        { round: 2, cells: ['skipped (no new records)', '1,200', '—'] },
        { round: 3, cells: ['50', '—', '—'] },
      ],
    });
    // a site a round names that is not among those that took part gets a column after them
    expect(roundSampleTable({ ...federation, sites: [], round_samples: [{ round: 1, samples: { 'datasource-9': 0 } }] })).toEqual({
      sites: ['datasource-9'],
      rows: [{ round: 1, cells: ['skipped (no new records)'] }],
    });
  });

  it('renders the overview, one row a site and the drops', () => {
    render(<FederationSummary federation={federation} />);
    expect(screen.getByTestId('federation-overview').textContent).toBe('fedavg · 3 rounds · 3 sites took part with 1,300 samples');
    const rows = [...screen.getByTestId('federation-sites').querySelectorAll('tbody tr')].map((tr) =>
      [...tr.querySelectorAll('td')].map((td) => td.textContent),
    );
    expect(rows[3]).toEqual(['datasource-4', '—', 'refused: 40 samples < min_data 100']);
    expect(rows).toHaveLength(5);
    expect(screen.getByTestId('federation-dropped').textContent).toBe('Dropped per round: round 2: datasource-3 · round 3: datasource-2');
  });

  it('renders the per-round table, and none when the summary has no rounds', () => {
    const { unmount } = render(<FederationSummary federation={federation} />);
    const table = screen.getByTestId('federation-rounds');
    expect([...table.querySelectorAll('thead th')].map((th) => th.textContent)).toEqual([
      'round',
      'datasource-1',
      'datasource-2',
      'datasource-3',
    ]);
    expect([...table.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent))).toEqual([
      ['1', '600', '400', '300'],
      ['2', 'skipped (no new records)', '1,200', '—'],
      ['3', '50', '—', '—'],
    ]);
    unmount();
    render(<FederationSummary federation={{ ...federation, round_samples: [] }} />);
    expect(screen.getByTestId('federation-sites')).toBeTruthy();
    expect(screen.queryByTestId('federation-rounds')).toBeNull();
  });

  it('renders nothing for an ordinary run', () => {
    const { container } = render(<FederationSummary federation={null} />);
    expect(container.innerHTML).toBe('');
  });
});
