import { Fragment } from 'react';
import type { TrainingResult } from '../lib/types';
import { INCREMENTAL_ONLY, SETTING_LABELS } from '../lib/runs';
import { fmtDate } from './ui';
import '../styles/tracking.css';

export function settingText(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object') return Object.keys(v as object).length ? JSON.stringify(v) : '—';
  return String(v);
}

/** What a result trained with: the exact code version, datasource, settings and seed. */
export default function Provenance({ r }: { r: Pick<TrainingResult, 'id' | 'model' | 'model_name' | 'seed' | 'provenance'> }) {
  const p = r.provenance;
  if (!p) return null;
  const v = p.model_version;
  const settings = Object.entries(p.settings ?? {}).filter(([k]) => k !== 'seed' && (p.settings.incremental || !INCREMENTAL_ONLY.has(k)));
  const seed = r.seed ?? (p.settings?.seed as number | null | undefined) ?? null;
  return (
    <div className="card" data-testid="provenance">
      <h2>Provenance</h2>
      <dl className="kv">
        <dt>Model code</dt>
        <dd data-testid="provenance-version">
          {v ? (
            <>
              {r.model_name} <strong>v{v.number}</strong> <span className="small muted">saved {fmtDate(v.created_at)}</span>
            </>
          ) : (
            <span className="muted">not recorded (trained before model versions)</span>
          )}
        </dd>
        <dt>Datasource</dt>
        <dd data-testid="provenance-datasource">
          {p.datasource ? (
            <>
              <code>{p.datasource.topic}</code>{' '}
              <span className="small muted">
                #{p.datasource.id} · {p.datasource.input_format}
                {p.datasource.total_msg != null && <> · {p.datasource.total_msg.toLocaleString()} records</>}
              </span>
            </>
          ) : (
            <span className="muted">none registered yet</span>
          )}
        </dd>
        <dt>Seed</dt>
        <dd data-testid="provenance-seed">{seed ?? <span className="muted">drawn by the worker, reported when training ends</span>}</dd>
        {settings.map(([k, val]) => (
          <Fragment key={k}>
            <dt>{SETTING_LABELS[k] ?? k}</dt>
            <dd>
              <code>{settingText(val)}</code>
            </dd>
          </Fragment>
        ))}
      </dl>
      {v && (
        <details data-testid="provenance-code">
          <summary>Code of v{v.number}</summary>
          {v.imports && (
            <pre className="code" aria-label="Imports">
              {v.imports}
            </pre>
          )}
          <pre className="code" aria-label="Model code">
            {v.code}
          </pre>
        </details>
      )}
    </div>
  );
}
