import { useState } from 'react';
import { ApiError, api, errorText } from '../lib/api';
import { ActionButton, useLoad } from './ui';

export interface FederatedSettings {
  deployment: number;
  rounds: number;
  min_data: number;
  strategy: string;
  strategy_params: Record<string, number>;
  restrictions: Record<string, unknown>;
  expected_sites: number | null;
  round_timeout_s: number;
  join_timeout_s: number;
  topics: { global: string; updates: string };
}

export const STRATEGIES = ['fedavg', 'fedprox', 'fedadagrad', 'fedadam', 'fedyogi'];

/** The PUT body from the form's text fields; throws a readable Error on bad JSON. */
export function federatedBody(form: {
  rounds: string;
  min_data: string;
  strategy: string;
  strategy_params: string;
  restrictions: string;
  expected_sites: string;
  join_timeout_s?: string;
}) {
  const json = (text: string, what: string) => {
    if (!text.trim()) return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new Error(`${what} is not valid JSON (e.g. {"data_shape": [8, 8]})`);
    }
  };
  return {
    rounds: Number(form.rounds),
    min_data: Number(form.min_data || 0),
    strategy: form.strategy,
    strategy_params: json(form.strategy_params, 'Strategy parameters'),
    restrictions: json(form.restrictions, 'Restrictions'),
    expected_sites: form.expected_sites ? Number(form.expected_sites) : null,
    ...(form.join_timeout_s ? { join_timeout_s: Number(form.join_timeout_s) } : {}),
  };
}

/** A deployment's federated settings (rounds, minimum data per site, strategy, restrictions). */
export default function FederatedPanel({ deploymentId }: { deploymentId: number }) {
  const url = `/api/v1/deployments/${deploymentId}/federated/`;
  const current = useLoad(async () => {
    try {
      return (await api.get<FederatedSettings | undefined>(url)) ?? null; // 204: not federated
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }, [url]);
  const s = current.data;
  const [form, setForm] = useState({
    rounds: '5',
    min_data: '0',
    strategy: 'fedavg',
    strategy_params: '',
    restrictions: '',
    expected_sites: '',
    join_timeout_s: '',
  });
  const [error, setError] = useState<string | null>(null);
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  return (
    <div className="card" data-testid="federated-panel">
      <h2>Federated training</h2>
      {s ? (
        <p className="small">
          {s.rounds} rounds, {s.strategy}
          {Object.keys(s.strategy_params).length ? ` ${JSON.stringify(s.strategy_params)}` : ''}, at least {s.min_data} samples per site
          {Object.keys(s.restrictions).length ? `, restrictions ${JSON.stringify(s.restrictions)}` : ''}; sites may join for{' '}
          {s.join_timeout_s} s. Topics: <code>{s.topics.global}</code>, <code>{s.topics.updates}</code>. Each site sends its data with{' '}
          <code>FederatedRawSink</code> for this deployment; the platform starts a site worker for it, and each round shows as an epoch of
          the result.
        </p>
      ) : (
        <p className="muted small">
          Not federated. Set rounds and a strategy to train at the sites, where the data stays (while the deployment waits for data, its
          training restarts as the federated coordinator).
        </p>
      )}
      <div className="grid two">
        <label>
          Rounds
          <input type="number" min={1} value={form.rounds} onChange={set('rounds')} />
        </label>
        <label>
          Minimum samples per site
          <input type="number" min={0} value={form.min_data} onChange={set('min_data')} />
        </label>
        <label>
          Strategy
          <select value={form.strategy} onChange={set('strategy')}>
            {STRATEGIES.map((name) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </label>
        <label>
          Expected sites
          <input type="number" min={1} value={form.expected_sites} onChange={set('expected_sites')} placeholder="e.g. 3" />
        </label>
        <label>
          Strategy parameters (JSON)
          <input value={form.strategy_params} onChange={set('strategy_params')} placeholder='e.g. {"eta": 0.05}' />
        </label>
        <label>
          Restrictions (JSON)
          <input value={form.restrictions} onChange={set('restrictions')} placeholder='e.g. {"data_shape": [8, 8]}' />
        </label>
        <label>
          Join timeout (s)
          <input type="number" min={1} value={form.join_timeout_s} onChange={set('join_timeout_s')} placeholder="600" />
        </label>
      </div>
      {error && <p className="error">{error}</p>}
      <ActionButton
        className="btn"
        busyLabel="Saving…"
        onClick={async () => {
          setError(null);
          try {
            current.setData(await api.put<FederatedSettings>(url, federatedBody(form)));
          } catch (err) {
            setError(err instanceof Error && !(err instanceof ApiError) ? err.message : errorText(err));
          }
        }}
      >
        {s ? 'Update federated settings' : 'Make federated'}
      </ActionButton>
    </div>
  );
}
