import { FormEvent, useState } from 'react';
import { Link } from 'react-router-dom';
import { useAuth } from '../auth';
import { ManagedUser, NewUserForm, formErrors, newUserProblems, rows, usersApi } from '../lib/accounts';
import { ApiError, type FieldErrors } from '../lib/api';
import { Dialog } from '../components/Dialog';
import { ActionButton, Check, Empty, ErrorAlert, Field, Loading, Spinner, fmtDate, fmtDay, useLoad } from '../components/ui';

type UsersClient = typeof usersApi;

const EMPTY_USER: NewUserForm = { username: '', password: '', is_staff: false };

export function SingleUserBanner() {
  return (
    <div className="alert warn" role="note" data-testid="single-user">
      <strong>Single-user mode: no second user can be created.</strong> On this machine the platform cannot isolate one user's model code
      from another's: the sandbox for user code is incomplete here (for example, the platform does not run as root and unprivileged user
      namespaces are unavailable), so it refuses to add users. <code>kafkaml up</code>
      says which part is missing when it starts; <code>docs/security.md</code> explains what the sandbox needs.
    </div>
  );
}

export function NewUserFormView({ onSubmit, disabled }: { onSubmit: (f: NewUserForm) => Promise<unknown>; disabled?: boolean }) {
  const [form, setForm] = useState<NewUserForm>(EMPTY_USER);
  const [local, setLocal] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setCreated(null);
    const problems = newUserProblems(form);
    setLocal(problems);
    if (Object.keys(problems).length) return;
    setBusy(true);
    try {
      await onSubmit({ ...form, username: form.username.trim() });
      setCreated(form.username.trim());
      setForm(EMPTY_USER);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const api = formErrors(error, ['username', 'password', 'is_staff']);
  const fe = (k: string) => [...(local[k] ?? []), ...(api.fields[k] ?? [])];
  return (
    <form className="card" onSubmit={submit} aria-label="New user" noValidate>
      <h2>New user</h2>
      {created && (
        <div className="alert ok" role="status">
          User “{created}” created. Give them the password; they can change it on their Account page.
        </div>
      )}
      {api.general && (
        <div className="alert error" role="alert">
          {api.general}
        </div>
      )}
      <fieldset disabled={disabled || busy} className="plain">
        <div className="row">
          <Field label="Username" htmlFor="nu-username" errors={fe('username')}>
            <input
              id="nu-username"
              type="text"
              autoComplete="off"
              value={form.username}
              onChange={(e) => setForm((f) => ({ ...f, username: e.target.value }))}
            />
          </Field>
          <Field label="Password" htmlFor="nu-password" errors={fe('password')} hint="The server checks its strength.">
            <input
              id="nu-password"
              type="password"
              autoComplete="new-password"
              value={form.password}
              onChange={(e) => setForm((f) => ({ ...f, password: e.target.value }))}
            />
          </Field>
        </div>
        <Check
          id="nu-staff"
          label="Staff"
          hint="Staff can create, disable and enable users and reset their passwords."
          checked={form.is_staff}
          onChange={(v) => setForm((f) => ({ ...f, is_staff: v }))}
        />
        {fe('is_staff').map((m) => (
          <div className="error-text" key={m}>
            {m}
          </div>
        ))}
        <button type="submit" className="btn primary" disabled={disabled || busy}>
          {busy && <Spinner />} Create user
        </button>
      </fieldset>
    </form>
  );
}

export function ResetPasswordDialog({
  user,
  onSubmit,
  onClose,
}: {
  user: ManagedUser;
  onSubmit: (password: string) => Promise<unknown>;
  onClose: () => void;
}) {
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [local, setLocal] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const problems: FieldErrors = {};
    if (!password) problems.password = ['Enter a password.'];
    else if (confirm !== password) problems.confirm = ['The two passwords differ.'];
    setLocal(problems);
    if (Object.keys(problems).length) return;
    setBusy(true);
    try {
      await onSubmit(password);
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const api = formErrors(error, ['password'], { new_password: 'password' });
  const fe = (k: string) => [...(local[k] ?? []), ...(api.fields[k] ?? [])];
  return (
    <Dialog title={`Reset the password of ${user.username}`} onClose={onClose}>
      <form onSubmit={submit} aria-label="Reset password" noValidate>
        <p className="muted small">
          Their sessions and API tokens end; tell them the new password, they can change it on their Account page.
        </p>
        {api.general && (
          <div className="alert error" role="alert">
            {api.general}
          </div>
        )}
        <Field label="New password" htmlFor="rp-password" errors={fe('password')}>
          <input
            id="rp-password"
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        <Field label="Confirm" htmlFor="rp-confirm" errors={fe('confirm')}>
          <input id="rp-confirm" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} />
        </Field>
        <div className="actions end">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={busy}>
            {busy && <Spinner />} Set password
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function UsersView({ client, me, singleUser }: { client: UsersClient; me: number; singleUser: boolean }) {
  const users = useLoad((s) => client.list(s).then(rows), []);
  const [refused, setRefused] = useState(false); // single-user mode, learnt from a 409
  const [resetting, setResetting] = useState<ManagedUser | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const single = singleUser || refused;

  const create = async (f: NewUserForm) => {
    try {
      await client.create(f);
    } catch (err) {
      // 409: a taken username, or single-user mode: ask the platform which.
      if (err instanceof ApiError && err.status === 409) setRefused(await client.singleUserMode().catch(() => false));
      throw err;
    }
    await users.reload(true);
  };
  const update = async (u: ManagedUser, body: Partial<Pick<ManagedUser, 'is_active' | 'is_staff'>>) => {
    const next = await client.update(u.id, body);
    users.setData((list) =>
      (list ?? []).map((x) => (x.id === u.id ? { ...x, ...body, ...(next && typeof next === 'object' ? next : {}) } : x)),
    );
  };
  const list = users.data ?? [];
  return (
    <>
      {single && <SingleUserBanner />}
      {notice && (
        <div className="alert ok" role="status">
          {notice}
        </div>
      )}
      <NewUserFormView onSubmit={create} disabled={single} />
      <ErrorAlert error={users.error} />
      {users.loading && !users.data ? (
        <Loading what="users" />
      ) : users.data && !list.length ? (
        <Empty title="No users">Create one above.</Empty>
      ) : users.data ? (
        <div className="card table-wrap">
          <table className="list" aria-label="Users">
            <thead>
              <tr>
                <th>User</th>
                <th>Status</th>
                <th className="hide-sm">Joined</th>
                <th className="hide-sm">Last login</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.map((u) => {
                const self = u.id === me;
                return (
                  <tr key={u.id} data-testid={`user-${u.username}`} className={u.is_active ? '' : 'inactive'}>
                    <td>
                      <strong>{u.username}</strong>
                      {self && <span className="muted small"> (you)</span>}
                      <div className="muted small show-sm">last login {u.last_login ? fmtDate(u.last_login) : 'never'}</div>
                    </td>
                    <td>
                      <span className="badges">
                        {u.is_active ? <span className="badge ok">active</span> : <span className="badge failed">disabled</span>}
                        {u.is_staff && <span className="badge running">staff</span>}
                      </span>
                    </td>
                    <td className="hide-sm muted" title={fmtDate(u.date_joined)}>
                      {fmtDay(u.date_joined)}
                    </td>
                    <td className="hide-sm muted">{u.last_login ? fmtDate(u.last_login) : 'never'}</td>
                    <td className="cell-actions">
                      <div className="actions end">
                        {u.is_active ? (
                          <ActionButton
                            className="btn small danger"
                            disabled={self}
                            title={self ? 'You cannot disable yourself' : undefined}
                            busyLabel="Disabling…"
                            confirm={`Disable ${u.username}? Their sessions and API tokens end now, and they cannot log in until you enable them again.`}
                            onClick={() => update(u, { is_active: false })}
                          >
                            Disable
                          </ActionButton>
                        ) : (
                          <ActionButton className="btn small" busyLabel="Enabling…" onClick={() => update(u, { is_active: true })}>
                            Enable
                          </ActionButton>
                        )}
                        <ActionButton
                          className="btn small"
                          disabled={self}
                          title={self ? 'You cannot change your own staff status' : undefined}
                          confirm={
                            u.is_staff ? `Remove staff rights from ${u.username}?` : `Make ${u.username} staff? Staff manage every user.`
                          }
                          onClick={() => update(u, { is_staff: !u.is_staff })}
                        >
                          {u.is_staff ? 'Remove staff' : 'Make staff'}
                        </ActionButton>
                        {self ? (
                          <Link className="btn small" to="/account">
                            Change password
                          </Link>
                        ) : (
                          <button
                            type="button"
                            className="btn small"
                            onClick={() => {
                              setNotice(null);
                              setResetting(u);
                            }}
                          >
                            Reset password
                          </button>
                        )}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      {resetting && (
        <ResetPasswordDialog
          user={resetting}
          onClose={() => setResetting(null)}
          onSubmit={async (pw) => {
            await client.setPassword(resetting.id, pw);
            setNotice(`Password of ${resetting.username} reset.`);
          }}
        />
      )}
    </>
  );
}

export function StaffOnly() {
  return (
    <div className="card empty" data-testid="staff-only">
      <div className="title">Staff only</div>
      <div>Only staff users manage users. Ask an administrator to create an account or reset a password.</div>
      <div className="actions">
        <Link className="btn" to="/account">
          Your account
        </Link>
      </div>
    </div>
  );
}

export default function Users() {
  const { user } = useAuth();
  if (!user) return null;
  return (
    <>
      <div className="page-head">
        <h1>Users</h1>
        <span className="sub">Who can log in. Every user sees only their own models, results and inferences.</span>
      </div>
      {user.is_staff ? <UsersView client={usersApi} me={user.id} singleUser={!!user.single_user_mode} /> : <StaffOnly />}
    </>
  );
}
