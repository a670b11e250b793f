import { describe, expect, it } from 'vitest';
import { candidateSummary, type Candidate } from './CandidatePanel';

const base: Candidate = {
  result: 7,
  version: 2,
  mode: 'shadow',
  share: 0,
  shadow_topic: 'alice.out.shadow',
  records: 400,
  errors: 0,
  agreement: 0.925,
  mean_abs_diff: 0.015,
};

describe('candidate summary', () => {
  it('shows the shadow agreement and mean absolute difference', () => {
    expect(candidateSummary(base)).toBe('shadow · agrees on 92.5 % of 400 records · mean |Δ| 0.0150');
    expect(candidateSummary({ ...base, records: 0, agreement: null })).toBe('shadow · no record compared yet');
  });

  it('shows the canary share and what it answered', () => {
    const canary: Candidate = { ...base, mode: 'canary', share: 0.25, shadow_topic: null, answered: 51, answered_share: 0.255 };
    expect(candidateSummary(canary)).toBe('canary for 25.0 % of the keys · answered 25.5 % of the records (51)');
  });
});
