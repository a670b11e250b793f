import { describe, expect, it } from 'vitest';
import { federatedRoundOf } from './ResultDetail';

describe('federated rounds on the result page', () => {
  it('reads "Round k / N" from the latest round report', () => {
    const epoch_metrics = [
      { epoch: 1, metrics: { loss: 1.2, round: 1, rounds: 5 } },
      { epoch: 2, metrics: { loss: 0.8, round: 2, rounds: 5 } },
    ];
    expect(federatedRoundOf({ epoch_metrics })).toBe('Round 2 / 5');
  });

  it('shows nothing for an ordinary run', () => {
    expect(federatedRoundOf({ epoch_metrics: [{ epoch: 1, metrics: { loss: 1 } }] })).toBeNull();
    expect(federatedRoundOf({ epoch_metrics: [] })).toBeNull();
  });
});
