import { FormEvent, ReactNode, useState } from 'react';
import { useAuth } from '../auth';
import {
  ApiToken,
  KafkaAccess,
  KafkaCredentials,
  NewToken,
  kafkaAccessApi,
  expiryText,
  formErrors,
  passwordApi,
  passwordFormProblems,
  tokensApi,
  type PasswordForm,
} from '../lib/accounts';
import { ApiError, type FieldErrors } from '../lib/api';
import { fallbackKafkaAccess, forgetKafkaAccess } from '../lib/kafkaAccess';
import KafkaAccessNotice from '../components/KafkaNotice';
import { ActionButton, CopyBlock, Empty, ErrorAlert, Field, Loading, Spinner, fmtDate, fmtDay, useLoad } from '../components/ui';

const EMPTY_PASSWORDS: PasswordForm = { old_password: '', new_password: '', confirm: '' };

export function ChangePasswordForm({
  onSubmit,
  onChanged,
}: {
  onSubmit: (oldPassword: string, newPassword: string) => Promise<unknown>;
  onChanged?: () => void;
}) {
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
      {done && (
        <div className="alert ok" role="status">
          Password changed. Your other sessions end and your API tokens are revoked: create new ones for your scripts.
        </div>
      )}
      {api.general && (
        <div className="alert error" role="alert">
          {api.general}
        </div>
      )}
      <Field label="Current password" htmlFor="pw-old" errors={fe('old_password')}>
        <input id="pw-old" type="password" autoComplete="current-password" value={form.old_password} onChange={set('old_password')} />
      </Field>
      <div className="row">
        <Field
          label="New password"
          htmlFor="pw-new"
          errors={fe('new_password')}
          hint="At least the length and strength the server asks for; not only digits, not like your username."
        >
          <input id="pw-new" type="password" autoComplete="new-password" value={form.new_password} onChange={set('new_password')} />
        </Field>
        <Field label="Confirm new password" htmlFor="pw-confirm" errors={fe('confirm')}>
          <input id="pw-confirm" type="password" autoComplete="new-password" value={form.confirm} onChange={set('confirm')} />
        </Field>
      </div>
      <button type="submit" className="btn primary" disabled={busy}>
        {busy && <Spinner />} Change password
      </button>
    </form>
  );
}

/** A secret the server sends once (a token, a Kafka password): shown here, never stored, gone
 *  when dismissed. `children` says what it is; each secret gets its own copy button. */
export function OneTimeSecret({
  testId,
  secrets,
  footer,
  onDone,
  children,
}: {
  testId: string;
  secrets: { label: string; text: string; caption?: string }[];
  footer?: ReactNode;
  onDone: () => void;
  children: ReactNode;
}) {
  return (
    <div className="alert ok token-reveal" role="status" data-testid={testId}>
      {children}
      {secrets.map((s) => (
        <div key={s.label}>
          {s.caption && <div className="small secret-caption">{s.caption}</div>}
          <CopyBlock text={s.text} label={s.label} />
        </div>
      ))}
      <div className="actions">
        {footer}
        <span className="spacer" />
        <button type="button" className="btn small" onClick={onDone}>
          I have copied it
        </button>
      </div>
    </div>
  );
}

/** The secret of a token just created: shown here once, never stored, gone when dismissed. */
export function TokenReveal({ token, onDone }: { token: NewToken; onDone: () => void }) {
  return (
    <OneTimeSecret
      testId="new-token"
      secrets={[{ label: 'New API token', text: token.token }]}
      onDone={onDone}
      footer={<span className="muted small">Expires: {expiryText(token.expiry).text}</span>}
    >
      <strong>Token “{token.name}” created.</strong> Copy it now: <strong>you will not see it again.</strong> Scripts send it in the header{' '}
      <code>Authorization: Token &lt;token&gt;</code>.
    </OneTimeSecret>
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
        <button type="submit" className="btn primary" disabled={busy || !name.trim()}>
          {busy && <Spinner />} Create token
        </button>
      </form>
      {errs.general && (
        <div className="alert error" role="alert">
          {errs.general}
        </div>
      )}
      <ErrorAlert error={tokens.error} />
      {tokens.loading && !tokens.data ? (
        <Loading what="tokens" />
      ) : tokens.data && !list.length ? (
        <Empty title="No API tokens">Create one above to use the API from a script.</Empty>
      ) : tokens.data ? (
        <div className="table-wrap">
          <table className="list" aria-label="API tokens">
            <thead>
              <tr>
                <th>Name</th>
                <th className="hide-sm">Created</th>
                <th>Expires</th>
                <th />
              </tr>
            </thead>
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
                    <td className="hide-sm muted" title={fmtDate(t.created)}>
                      {fmtDay(t.created)}
                    </td>
                    <td title={t.expiry ? fmtDate(t.expiry) : undefined}>
                      {exp.expired ? (
                        <span className="badge failed">expired</span>
                      ) : t.expiry ? (
                        fmtDay(t.expiry)
                      ) : (
                        <span className="muted">never</span>
                      )}
                    </td>
                    <td className="cell-actions">
                      <ActionButton
                        className="btn small danger"
                        busyLabel="Revoking…"
                        confirm={
                          t.current
                            ? `Revoke “${t.name}”? It is the token of this session: you will be logged out.`
                            : `Revoke the token “${t.name}”? Anything using it stops working.`
                        }
                        onClick={() => revoke(t)}
                      >
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

/** The Kafka password just created or rotated: shown once, like a new API token. */
export function KafkaCredentialsReveal({ credentials, onDone }: { credentials: KafkaCredentials; onDone: () => void }) {
  return (
    <OneTimeSecret
      testId="new-kafka-credentials"
      onDone={onDone}
      secrets={[
        { label: 'Kafka username', text: credentials.username, caption: 'Username' },
        { label: 'Kafka password', text: credentials.password, caption: 'Password' },
      ]}
      footer={credentials.rotated_at ? <span className="muted small">Created {fmtDate(credentials.rotated_at)}</span> : undefined}
    >
      <strong>Kafka credentials ready.</strong> Copy the password now: <strong>you will not see it again.</strong> Any earlier Kafka
      password of yours no longer works. Scripts read it from <code>$KAFKA_SASL_PASSWORD</code>.
    </OneTimeSecret>
  );
}

type KafkaAccessClient = Pick<typeof kafkaAccessApi, 'get' | 'createCredentials'>;

function KafkaSettingsList({ access }: { access: KafkaAccess }) {
  return (
    <dl className="kv small" aria-label="Kafka settings">
      <dt>Your topic prefix</dt>
      <dd>
        <code data-testid="kafka-topic-prefix">{access.topic_prefix}</code>{' '}
        <span className="muted">(every topic you use must start with it)</span>
      </dd>
      {access.group_prefix && access.group_prefix !== access.topic_prefix && (
        <>
          <dt>Consumer group prefix</dt>
          <dd>
            <code>{access.group_prefix}</code>
          </dd>
        </>
      )}
      <dt>Bootstrap servers</dt>
      <dd>
        <code>{access.bootstrap_servers || '—'}</code>
      </dd>
      <dt>Protocol</dt>
      <dd>
        {access.security_protocol || 'PLAINTEXT'}
        {access.sasl_mechanism && <> · {access.sasl_mechanism}</>}
      </dd>
      {access.username && (
        <>
          <dt>Kafka username</dt>
          <dd>
            <code>{access.username}</code>
          </dd>
        </>
      )}
      {access.control_topic && (
        <>
          <dt>Control topic</dt>
          <dd>
            <code>{access.control_topic}</code>
          </dd>
        </>
      )}
      {access.secured && (
        <>
          <dt>Password</dt>
          <dd>
            {access.has_credentials ? (
              <>set{access.rotated_at && <>, last rotated {fmtDate(access.rotated_at)}</>}</>
            ) : (
              <span className="muted">none yet</span>
            )}
          </dd>
        </>
      )}
    </dl>
  );
}

/** Where and how to reach Kafka, the topic prefix the user owns, and (on a secured broker) the
 *  user's Kafka password: created or rotated here, shown once. */
export function KafkaAccessPanel({ client = kafkaAccessApi, fallback }: { client?: KafkaAccessClient; fallback?: KafkaAccess }) {
  const loaded = useLoad((s) => client.get(s), []);
  const [revealed, setRevealed] = useState<KafkaCredentials | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const missing = loaded.error instanceof ApiError && loaded.error.status === 404;
  const access = loaded.data ?? (missing ? (fallback ?? null) : null);

  const createOrRotate = async () => {
    if (
      access?.has_credentials &&
      !window.confirm('Rotate your Kafka password? The current one stops working at once: update your scripts.')
    )
      return;
    setError(null);
    setBusy(true);
    try {
      const created = await client.createCredentials();
      setRevealed(created);
      forgetKafkaAccess();
      await loaded.reload(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="kafka-h" data-testid="kafka-access">
      <h2 id="kafka-h">Kafka access</h2>
      <p className="muted small">
        For sending data with the <code>datasources</code> library or <code>kafkaml-send</code>, and reading predictions. You own exactly
        the topics and consumer groups that start with your prefix; the platform refuses anything else.
      </p>
      {loaded.loading && !access ? (
        <Loading what="your Kafka settings" />
      ) : !access ? (
        <ErrorAlert error={loaded.error} />
      ) : (
        <>
          {missing && (
            <div className="alert info small">
              This server does not report Kafka settings yet: the prefix below is derived from your username.
            </div>
          )}
          <KafkaAccessNotice access={access} showSecured />
          {revealed && <KafkaCredentialsReveal credentials={revealed} onDone={() => setRevealed(null)} />}
          <KafkaSettingsList access={access} />
          {access.secured && (
            <div className="actions kafka-actions">
              <button type="button" className="btn primary" disabled={busy} onClick={createOrRotate}>
                {busy && <Spinner />} {access.has_credentials ? 'Rotate credentials' : 'Create credentials'}
              </button>
            </div>
          )}
          <ErrorAlert error={error} />
        </>
      )}
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
          Signed in as <strong>{user.username}</strong>
          {user.is_staff && <span className="badge running badge-gap">staff</span>}
        </span>
      </div>
      <div className="grid two account-grid">
        <ChangePasswordForm onSubmit={(o, n) => passwordApi.change(o, n)} onChanged={() => setGeneration((g) => g + 1)} />
        <TokensPanel key={generation} />
      </div>
      <KafkaAccessPanel fallback={fallbackKafkaAccess(user)} />
    </>
  );
}
