import { FormEvent, useEffect, useState } from 'react';
import { useAuth } from '../auth';
import { ApiError, errorText } from '../lib/api';
import { Field, Spinner } from '../components/ui';

export default function Login() {
  const { login, expired } = useAuth();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // After a 429 (too many attempts): the button waits out the server's delay.
  const [waitUntil, setWaitUntil] = useState(0);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (waitUntil <= now) return;
    const id = setTimeout(() => setNow(Date.now()), 1000);
    return () => clearTimeout(id);
  }, [waitUntil, now]);
  const waitLeft = Math.max(0, Math.ceil((waitUntil - now) / 1000));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username, password);
    } catch (err) {
      setError(err);
      setBusy(false);
      if (err instanceof ApiError && err.status === 429) {
        const t = Date.now();
        setNow(t);
        setWaitUntil(t + (err.retryAfter ?? 10) * 1000);
      }
    }
  };
  const fieldErr = (f: string) => (error instanceof ApiError ? error.field(f) : []);
  const general = error && !(error instanceof ApiError && Object.keys(error.errors).length) ? errorText(error) : null;

  return (
    <div className="login">
      <form className="card" onSubmit={submit} aria-label="Log in">
        <h1>Kafka-ML</h1>
        {expired && <div className="alert warn">Your session expired. Please log in again.</div>}
        {general && (
          <div className="alert error" role="alert">
            {general}
          </div>
        )}
        <Field label="Username" htmlFor="username" errors={fieldErr('username')}>
          <input
            id="username"
            type="text"
            autoComplete="username"
            autoFocus
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </Field>
        <Field label="Password" htmlFor="password" errors={fieldErr('password')}>
          <input
            id="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </Field>
        <button className="btn primary wide" type="submit" disabled={busy || waitLeft > 0}>
          {busy && <Spinner />} Log in{waitLeft > 0 && <span className="wait"> (wait {waitLeft} s)</span>}
        </button>
        <p className="muted small">
          The first admin password is printed by <code>kafkaml up</code> on its first run.
        </p>
      </form>
    </div>
  );
}
