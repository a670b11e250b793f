import { FormEvent, useState } from 'react';
import { useAuth } from '../auth';
import { ApiError, errorText } from '../lib/api';
import { Field, Spinner } from '../components/ui';

export default function Login() {
  const { login, expired } = useAuth();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username, password);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const fieldErr = (f: string) => (error instanceof ApiError ? error.field(f) : []);
  const general = error && !(error instanceof ApiError && Object.keys(error.errors).length) ? errorText(error) : null;

  return (
    <div className="login">
      <form className="card" onSubmit={submit} aria-label="Log in">
        <h1>Kafka-ML</h1>
        {expired && <div className="alert warn">Your session expired. Please log in again.</div>}
        {general && <div className="alert error" role="alert">{general}</div>}
        <Field label="Username" htmlFor="username" errors={fieldErr('username')}>
          <input id="username" type="text" autoComplete="username" autoFocus value={username} onChange={(e) => setUsername(e.target.value)} required />
        </Field>
        <Field label="Password" htmlFor="password" errors={fieldErr('password')}>
          <input id="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </Field>
        <button className="btn primary" type="submit" disabled={busy} style={{ width: '100%', justifyContent: 'center' }}>
          {busy && <Spinner />} Log in
        </button>
        <p className="muted small">The first admin password is printed by <code>kafkaml up</code> on its first run.</p>
      </form>
    </div>
  );
}
