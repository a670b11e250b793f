import { useState } from 'react';
import { api } from '../lib/api';
import type { Inference } from '../lib/types';
import { ActionButton } from './ui';

/** Shadow / canary: a second model version on the inference's input (backend: inference
 *  candidates.py). Its live comparison with the primary comes with the inference. */
export interface Candidate {
  result: number;
  version: number;
  mode: 'shadow' | 'canary';
  share: number;
  shadow_topic: string | null;
  records: number;
  errors: number;
  agreement?: number | null;
  mean_abs_diff?: number | null;
  answered?: number;
  answered_share?: number | null;
}

export interface CandidateChoice {
  key: string;
  label: string;
  result: number;
  version: number;
}

/** One line on how the candidate compares, e.g. "agrees on 92.5 % of 400 records · mean |Δ| 0.0150". */
export function candidateSummary(c: Candidate): string {
  if (c.mode === 'canary') {
    const seen =
      c.answered_share == null ? 'no record answered yet' : `answered ${fmtPct(c.answered_share)} of the records (${c.answered ?? 0})`;
    return `canary for ${fmtPct(c.share)} of the keys · ${seen}`;
  }
  if (c.agreement == null || !c.records) return 'shadow · no record compared yet';
  return `shadow · agrees on ${fmtPct(c.agreement)} of ${c.records} records · mean |Δ| ${(c.mean_abs_diff ?? 0).toFixed(4)}${c.errors ? ` · ${c.errors} failed` : ''}`;
}

function fmtPct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

export default function CandidatePanel({
  inf,
  choices,
  onChange,
}: {
  inf: Inference & { candidate?: Candidate | null };
  choices: CandidateChoice[];
  onChange: (inf: Inference) => void;
}) {
  const [pick, setPick] = useState('');
  const [mode, setMode] = useState<'shadow' | 'canary'>('shadow');
  const [share, setShare] = useState('10');
  const c = inf.candidate;
  const url = `/api/v1/inferences/${inf.id}/`;
  if (c) {
    return (
      <div className="row" style={{ marginTop: 12, alignItems: 'center' }} data-testid="candidate">
        <span className="small">
          Candidate result #{c.result} v{c.version}: <span data-testid="candidate-summary">{candidateSummary(c)}</span>
          {c.shadow_topic && (
            <>
              {' '}
              → <code>{c.shadow_topic}</code>
            </>
          )}
        </span>
        <span className="spacer" />
        <ActionButton
          className="btn small primary"
          confirm={`Serve result #${c.result} v${c.version} for every record?`}
          onClick={async () => onChange(await api.post<Inference>(`${url}promote/`))}
        >
          Promote
        </ActionButton>
        <ActionButton className="btn small" onClick={async () => onChange(await api.post<Inference>(`${url}rollback/`))}>
          Roll back
        </ActionButton>
      </div>
    );
  }
  const shareNum = Number(share) / 100;
  return (
    <div className="actions" style={{ marginTop: 12 }} data-testid="candidate-form">
      <label htmlFor={`cand-${inf.id}`} className="small">
        Try a candidate
      </label>
      <select id={`cand-${inf.id}`} value={pick} onChange={(e) => setPick(e.target.value)} style={{ width: 200 }}>
        <option value="">{choices.length ? 'Pick a version…' : 'No other version'}</option>
        {choices.map((v) => (
          <option key={v.key} value={v.key}>
            {v.label}
          </option>
        ))}
      </select>
      <select aria-label="Candidate mode" value={mode} onChange={(e) => setMode(e.target.value as 'shadow' | 'canary')}>
        <option value="shadow">shadow (outputs to a shadow topic)</option>
        <option value="canary">canary (answers a share of the keys)</option>
      </select>
      {mode === 'canary' && (
        <>
          <input
            aria-label="Canary share %"
            type="number"
            min={1}
            max={100}
            value={share}
            onChange={(e) => setShare(e.target.value)}
            style={{ width: 70 }}
          />
          <span className="small">% of keys</span>
        </>
      )}
      <ActionButton
        className="btn small"
        disabled={!pick || (mode === 'canary' && !(shareNum > 0 && shareNum <= 1))}
        onClick={async () => {
          const v = choices.find((x) => x.key === pick)!;
          onChange(
            await api.post<Inference>(`${url}candidate/`, {
              result: v.result,
              version: v.version,
              mode,
              share: mode === 'canary' ? shareNum : 0,
            }),
          );
          setPick('');
        }}
      >
        Start
      </ActionButton>
    </div>
  );
}
