import { describe, expect, it } from 'vitest';
import { federatedBody } from './FederatedPanel';

const form = {
  rounds: '10',
  min_data: '500',
  strategy: 'fedadam',
  strategy_params: '{"eta": 0.05}',
  restrictions: '{"data_shape": [8, 8]}',
  expected_sites: '3',
};

describe('federated settings form', () => {
  it('sends numbers and parsed JSON', () => {
    expect(federatedBody(form)).toEqual({
      rounds: 10,
      min_data: 500,
      strategy: 'fedadam',
      strategy_params: { eta: 0.05 },
      restrictions: { data_shape: [8, 8] },
      expected_sites: 3,
    });
    expect(federatedBody({ ...form, strategy_params: '', restrictions: '', expected_sites: '' })).toMatchObject({
      strategy_params: {},
      restrictions: {},
      expected_sites: null,
    });
  });

  it('sends the join timeout only when given (the backend default: 600 s)', () => {
    expect(federatedBody(form)).not.toHaveProperty('join_timeout_s');
    expect(federatedBody({ ...form, join_timeout_s: '120' })).toMatchObject({ join_timeout_s: 120 });
  });

  it('names the field whose JSON is broken', () => {
    expect(() => federatedBody({ ...form, restrictions: '{data_shape: 8}' })).toThrow(/Restrictions is not valid JSON/);
  });
});
