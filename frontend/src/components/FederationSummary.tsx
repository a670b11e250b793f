import type { Federation } from '../lib/types';
import { fmtNum } from './ui';

export type FederationRow = { site: string; samples: number | null; outcome: string; kind: 'took-part' | 'dropped' | 'refused' | 'late' };

/** One row a site: the sites that took part first (a dropped one says the round it missed),
 * then the refused ones with the reason, then the late ones. */
export function federationRows(f: Federation): FederationRow[] {
  const missed = new Map(f.dropped.map((d) => [d.site, d.round]));
  return [
    ...f.sites.map((s): FederationRow => {
      const round = missed.get(s.site);
      return round == null
        ? { ...s, outcome: 'took part', kind: 'took-part' }
        : { ...s, outcome: `took part; dropped in round ${round} (no answer)`, kind: 'dropped' };
    }),
    ...f.refused.map((s): FederationRow => ({ site: s.site, samples: null, outcome: `refused: ${s.reason}`, kind: 'refused' })),
    ...f.late.map((s): FederationRow => ({ ...s, outcome: 'late: qualified after the join, not used', kind: 'late' })),
  ];
}

/** The sites dropped in each round, in round order: "round 2: a, b". */
export function droppedPerRound(f: Federation): string[] {
  const rounds = new Map<number, string[]>();
  for (const d of f.dropped) rounds.set(d.round, [...(rounds.get(d.round) ?? []), d.site]);
  return [...rounds.entries()].sort(([a], [b]) => a - b).map(([round, sites]) => `round ${round}: ${sites.join(', ')}`);
}

/** The per-round table: the sites as columns (those that took part in their order, then any
 * other a round names), one row a round; a cell is what the site trained on in that round,
 * "skipped (no new records)" for 0, "—" where the site did not answer (dropped). */
export function roundSampleTable(f: Federation): { sites: string[]; rows: { round: number; cells: string[] }[] } {
  const sites = f.sites.map((s) => s.site);
  for (const r of f.round_samples) for (const site of Object.keys(r.samples)) if (!sites.includes(site)) sites.push(site);
  const cell = (n: number | undefined) => (n == null ? '—' : n === 0 ? 'skipped (no new records)' : fmtNum(n));
  return { sites, rows: f.round_samples.map((r) => ({ round: r.round, cells: sites.map((site) => cell(r.samples[site])) })) };
}

/** The federation of a federated result: which sites took part (with their samples), which were
 * refused and why, which came late and which dropped out in which round, and (when the
 * summary has them) what each site trained on in each round. Nothing for an ordinary run. */
export default function FederationSummary({ federation }: { federation: Federation | null | undefined }) {
  if (!federation) return null;
  const rows = federationRows(federation);
  const used = federation.sites.reduce((n, s) => n + (s.samples ?? 0), 0);
  const dropped = droppedPerRound(federation);
  const perRound = roundSampleTable(federation);
  return (
    <div className="card" data-testid="federation">
      <h2>Federation</h2>
      <p className="small muted" data-testid="federation-overview">
        {[
          federation.strategy || null,
          federation.rounds != null ? `${federation.rounds} round${federation.rounds === 1 ? '' : 's'}` : null,
          `${federation.sites.length} site${federation.sites.length === 1 ? '' : 's'} took part with ${fmtNum(used)} samples`,
        ]
          .filter(Boolean)
          .join(' · ')}
      </p>
      {rows.length > 0 && (
        <table className="list" data-testid="federation-sites">
          <thead>
            <tr>
              <th>site</th>
              <th className="num">samples</th>
              <th>outcome</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={`${row.kind}-${row.site}`} data-kind={row.kind}>
                <td>{row.site}</td>
                <td className="num">{fmtNum(row.samples)}</td>
                <td>{row.outcome}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="small muted" data-testid="federation-dropped">
        {dropped.length ? `Dropped per round: ${dropped.join(' · ')}` : 'No site dropped out.'}
      </p>
      {perRound.rows.length > 0 && (
        <div data-testid="federation-rounds">
          <h3 className="small">Samples each site trained on, per round</h3>
          <table className="list">
            <thead>
              <tr>
                <th>round</th>
                {perRound.sites.map((site) => (
                  <th key={site} className="num">
                    {site}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {perRound.rows.map((row) => (
                <tr key={row.round}>
                  <td>{row.round}</td>
                  {row.cells.map((cell, i) => (
                    <td key={perRound.sites[i]} className="num">
                      {cell}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
