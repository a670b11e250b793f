import { ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, errorText } from '../lib/api';
import { useLatest } from '../lib/useLatest';

export function Spinner({ label }: { label?: string }) {
  return <span className="spinner" role="status" aria-label={label ?? 'Loading'} />;
}

export function Loading({ what }: { what?: string }) {
  return (
    <div className="loading">
      <Spinner /> Loading{what ? ` ${what}` : ''}…
    </div>
  );
}

export function Empty({ title, children, actions }: { title: string; children?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="empty card">
      <div className="title">{title}</div>
      {children && <div>{children}</div>}
      {actions && <div className="actions">{actions}</div>}
    </div>
  );
}

export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const fieldErrors = error instanceof ApiError ? Object.entries(error.errors) : [];
  return (
    <div className="alert error" role="alert">
      {title && <strong>{title} </strong>}
      {errorText(error)}
      {fieldErrors.length > 1 && (
        <ul className="small">
          {fieldErrors.map(([k, v]) => (
            <li key={k}>
              <code>{k}</code>: {v.join(' ')}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

const STATUS_LIVE = new Set(['running', 'deployed', 'created']);
export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge ${status} ${STATUS_LIVE.has(status) ? 'pulse' : ''}`}>{status}</span>;
}

interface FieldProps {
  label: string;
  htmlFor?: string;
  hint?: ReactNode;
  errors?: string[] | string | null;
  children: ReactNode;
}
export function Field({ label, htmlFor, hint, errors, children }: FieldProps) {
  const list = !errors ? [] : Array.isArray(errors) ? errors : [errors];
  return (
    <div className={`field${list.length ? ' invalid' : ''}`}>
      {htmlFor ? <label htmlFor={htmlFor}>{label}</label> : <span className="label">{label}</span>}
      {children}
      {hint && <span className="hint">{hint}</span>}
      {list.map((e, i) => (
        <span className="error" key={i} role="alert">
          {e}
        </span>
      ))}
    </div>
  );
}

export function Check({
  id,
  label,
  hint,
  checked,
  onChange,
  disabled,
}: {
  id: string;
  label: string;
  hint?: ReactNode;
  checked: boolean;
  onChange: (v: boolean) => void;
  disabled?: boolean;
}) {
  return (
    <div className="check">
      <input id={id} type="checkbox" checked={checked} disabled={disabled} onChange={(e) => onChange(e.target.checked)} />
      <label htmlFor={id}>
        {label}
        {hint && <span className="hint">{hint}</span>}
      </label>
    </div>
  );
}

/** A button that runs an async action, shows progress, and reports failure next to itself. */
export function ActionButton({
  onClick,
  children,
  className = 'btn',
  confirm,
  disabled,
  title,
  busyLabel,
}: {
  onClick: () => Promise<unknown>;
  children: ReactNode;
  className?: string;
  confirm?: string;
  disabled?: boolean;
  title?: string;
  busyLabel?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const mounted = useRef(true);
  useEffect(() => () => void (mounted.current = false), []);
  const run = async () => {
    if (confirm && !window.confirm(confirm)) return;
    setBusy(true);
    setError(null);
    try {
      await onClick();
    } catch (err) {
      if (mounted.current) setError(err);
    } finally {
      if (mounted.current) setBusy(false);
    }
  };
  return (
    <span className="nowrap">
      <button type="button" className={className} onClick={run} disabled={disabled || busy} title={title}>
        {busy && <Spinner />} {busy && busyLabel ? busyLabel : children}
      </button>
      {error != null && (
        <span className="error-text" role="alert">
          {' '}
          {errorText(error)}
        </span>
      )}
    </span>
  );
}

export function CopyBlock({ text, label }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'selected'>('idle');
  const pre = useRef<HTMLPreElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
      setTimeout(() => setState('idle'), 1500);
    } catch {
      // No clipboard (plain http, permissions): select the text for Ctrl+C instead.
      if (pre.current) window.getSelection()?.selectAllChildren(pre.current);
      setState('selected');
    }
  };
  return (
    <div className="copy-wrap">
      <pre aria-label={label} ref={pre}>
        {text}
      </pre>
      <button type="button" className="btn small" onClick={copy}>
        {state === 'copied' ? 'Copied' : state === 'selected' ? 'Selected: press Ctrl+C' : 'Copy'}
      </button>
    </div>
  );
}

/** Load data on mount (and when deps change), with reload. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  // `loading` is derived: true until a load for the current `deps` settles, or while a
  // non-quiet reload() runs (no state is set synchronously in the effect).
  const [settledFor, setSettledFor] = useState<unknown[] | null>(null);
  const [reloading, setReloading] = useState(false);
  const loadRef = useLatest(load);
  const depsRef = useLatest(deps);
  const ctrl = useRef<AbortController | null>(null);
  const run = useCallback(
    async (forDeps: unknown[]) => {
      ctrl.current?.abort();
      const c = new AbortController();
      ctrl.current = c;
      try {
        const value = await loadRef.current(c.signal);
        if (!c.signal.aborted) {
          setData(value);
          setError(null);
        }
      } catch (err) {
        if (!c.signal.aborted && (err as Error).name !== 'AbortError') setError(err);
      } finally {
        if (!c.signal.aborted) {
          setSettledFor(forDeps);
          setReloading(false);
        }
      }
    },
    [loadRef],
  );
  const reload = useCallback(
    async (quiet = false) => {
      if (!quiet) setReloading(true);
      await run(depsRef.current);
    },
    [run, depsRef],
  );
  useEffect(() => {
    run(deps);
    return () => ctrl.current?.abort();
    // The caller's `deps` are the dependency list, as with useEffect itself.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  const loading = reloading || !sameDeps(settledFor, deps);
  return { data, error, loading, reload, setData };
}

function sameDeps(a: readonly unknown[] | null, b: readonly unknown[]): boolean {
  return a !== null && a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

/** Re-run `fn` every `ms` while `active`. */
export function useInterval(fn: () => void, ms: number, active = true) {
  const ref = useLatest(fn);
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => ref.current(), ms);
    return () => clearInterval(id);
  }, [ms, active, ref]);
}

export function fmtNum(v: unknown, digits = 4): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  if (Number.isInteger(v)) return v.toLocaleString();
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return v.toExponential(2);
  return Number(v.toFixed(digits)).toString();
}

export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** The day only (the full date and time in `title` where it matters). */
export function fmtDay(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString();
}

export function LiveDot({ state }: { state: 'connecting' | 'open' | 'closed' | 'failing' | 'denied' }) {
  const text = {
    connecting: 'connecting…',
    open: 'live',
    closed: 'reconnecting…',
    failing: 'cannot connect (retrying)',
    denied: 'live updates unavailable',
  }[state];
  return (
    <span className={`badge ${state === 'open' ? 'running pulse' : ''}`} title="Live updates over a websocket">
      {text}
    </span>
  );
}
