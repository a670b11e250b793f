import { FormEvent, useState } from 'react';
import { useAuth } from '../auth';
import { ApiToken, NewToken, expiryText, formErrors, passwordApi, passwordFormProblems, tokensApi, type PasswordForm } from '../lib/accounts';
import type { FieldErrors } from '../lib/api';
import { ActionButton, CopyBlock, Empty, ErrorAlert, Field, Loading, Spinner, fmtDate, fmtDay, useLoad } from '../components/ui';

const EMPTY_PASSWORDS: PasswordForm = { old_password: '', new_password: '', confirm: '' };

export function ChangePasswordForm({ onSubmit, onChanged }: { onSubmit: (oldPassword: string, newPassword: string) => Promise<unknown>; onChanged?: () => void }) {
  const [form, setForm] = useState<PasswordForm>(EMPTY_PASSWORDS);
  const [local, setLocal] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const set = (k: keyof PasswordForm) => (e: { target: { value: string } }) => {
    setForm((f) => ({ ...f, [k]: e.target.value }));
    setDone(false);
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setDone(false);
    const problems = passwordFormProblems(form);
    setLocal(problems);
    if (Object.keys(problems).length) return;
    setBusy(true);
    try {
      await onSubmit(form.old_password, form.new_password);
      setForm(EMPTY_PASSWORDS);
      setDone(true);
      onChanged?.();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const api = formErrors(error, ['old_password', 'new_password']);
  const fe = (k: string) => [...(local[k] ?? []), ...(api.fields[k] ?? [])];
  return (
    <form className="card" onSubmit={submit} aria-label="Change password" noValidate>
      <h2>Change password</h2>
      {done && <div className="alert ok" role="status">Password changed. Your other sessions end and your API tokens are revoked: create new ones for your scripts.</div>}
      {api.general && <div className="alert error" role="alert">{api.general}</div>}
      <Field label="Current password" htmlFor="pw-old" errors={fe('old_password')}>
        <input id="pw-old" type="password" autoComplete="current-password" value={form.old_password} onChange={set('old_password')} />
      </Field>
      <div className="row">
        <Field label="New password" htmlFor="pw-new" errors={fe('new_password')} hint="At least the length and strength the server asks for; not only digits, not like your username.">
          <input id="pw-new" type="password" autoComplete="new-password" value={form.new_password} onChange={set('new_password')} />
        </Field>
        <Field label="Confirm new password" htmlFor="pw-confirm" errors={fe('confirm')}>
          <input id="pw-confirm" type="password" autoComplete="new-password" value={form.confirm} onChange={set('confirm')} />
        </Field>
      </div>
      <button type="submit" className="btn primary" disabled={busy}>{busy && <Spinner />} Change password</button>
    </form>
  );
}

/** The secret of a token just created: shown here once, never stored, gone when dismissed. */
export function TokenReveal({ token, onDone }: { token: NewToken; onDone: () => void }) {
  return (
    <div className="alert ok token-reveal" role="status" data-testid="new-token">
      <strong>Token “{token.name}” created.</strong> Copy it now: <strong>you will not see it again.</strong>
      {' '}Scripts send it in the header <code>Authorization: Token &lt;token&gt;</code>.
      <CopyBlock text={token.token} label="New API token" />
      <div className="actions">
        <span className="muted small">Expires: {expiryText(token.expiry).text}</span>
        <span className="spacer" />
        <button type="button" className="btn small" onClick={onDone}>I have copied it</button>
      </div>
    </div>
  );
}

type TokensClient = Pick<typeof tokensApi, 'list' | 'create' | 'revoke'>;

export function TokensPanel({ client = tokensApi }: { client?: TokensClient }) {
  const tokens = useLoad((s) => client.list(s), []);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // The secret lives only in this component's state: not in the list, not in storage.
  const [revealed, setRevealed] = useState<NewToken | null>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const t = await client.create(name.trim());
      setRevealed(t);
      setName('');
      await tokens.reload(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (t: ApiToken) => {
    await client.revoke(t.id);
    if (revealed?.id === t.id) setRevealed(null);
    await tokens.reload(true);
  };
  const errs = formErrors(error, ['name']);
  const list = tokens.data ?? [];
  return (
    <section className="card" aria-labelledby="tokens-h">
      <h2 id="tokens-h">API tokens</h2>
      <p className="muted small">
        For scripts and the <code>kafkaml-send</code> command. A token acts as you: revoke the ones you no longer use.
      </p>
      {revealed && <TokenReveal token={revealed} onDone={() => setRevealed(null)} />}
      <form className="inline-form" onSubmit={create} aria-label="New API token">
        <Field label="Token name" htmlFor="token-name" errors={errs.fields.name} hint="What uses it, e.g. “laptop” or “CI”.">
          <input id="token-name" type="text" value={name} maxLength={100} onChange={(e) => setName(e.target.value)} required />
        </Field>
        <button type="submit" className="btn primary" disabled={busy || !name.trim()}>{busy && <Spinner />} Create token</button>
      </form>
      {errs.general && <div className="alert error" role="alert">{errs.general}</div>}
      <ErrorAlert error={tokens.error} />
      {tokens.loading && !tokens.data ? (
        <Loading what="tokens" />
      ) : tokens.data && !list.length ? (
        <Empty title="No API tokens">Create one above to use the API from a script.</Empty>
      ) : tokens.data ? (
        <div className="table-wrap">
          <table className="list" aria-label="API tokens">
            <thead><tr><th>Name</th><th className="hide-sm">Created</th><th>Expires</th><th /></tr></thead>
            <tbody>
              {list.map((t) => {
                const exp = expiryText(t.expiry);
                return (
                  <tr key={t.id} data-testid={`token-${t.name}`}>
                    <td>
                      {t.name || <span className="muted">unnamed</span>}
                      {t.current && <span className="badge running badge-gap">this session</span>}
                      <div className="muted small show-sm">created {fmtDay(t.created)}</div>
                    </td>
                    <td className="hide-sm muted" title={fmtDate(t.created)}>{fmtDay(t.created)}</td>
                    <td title={t.expiry ? fmtDate(t.expiry) : undefined}>{exp.expired ? <span className="badge failed">expired</span> : t.expiry ? fmtDay(t.expiry) : <span className="muted">never</span>}</td>
                    <td className="cell-actions">
                      <ActionButton className="btn small danger" busyLabel="Revoking…"
                        confirm={t.current ? `Revoke “${t.name}”? It is the token of this session: you will be logged out.` : `Revoke the token “${t.name}”? Anything using it stops working.`}
                        onClick={() => revoke(t)}>
                        Revoke
                      </ActionButton>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

export default function Account() {
  const { user } = useAuth();
  // A password change revokes the tokens: load the list again.
  const [generation, setGeneration] = useState(0);
  if (!user) return null;
  return (
    <>
      <div className="page-head">
        <h1>Account</h1>
        <span className="sub">
          Signed in as <strong>{user.username}</strong>{user.is_staff && <span className="badge running badge-gap">staff</span>}
        </span>
      </div>
      <div className="grid two account-grid">
        <ChangePasswordForm onSubmit={(o, n) => passwordApi.change(o, n)} onChanged={() => setGeneration((g) => g + 1)} />
        <TokensPanel key={generation} />
      </div>
    </>
  );
}
