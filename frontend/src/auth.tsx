import { createContext, ReactNode, useCallback, useContext, useEffect, useState } from 'react';
import { api, onSessionExpired, request } from './lib/api';
import type { User } from './lib/types';

interface AuthState {
  user: User | null;
  checking: boolean;
  expired: boolean;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
}

const SESSION_KEY = 'kafkaml.session';
function hadSession(): boolean {
  try {
    return window.localStorage.getItem(SESSION_KEY) === '1';
  } catch {
    return true;
  }
}
function rememberSession(on: boolean) {
  try {
    if (on) window.localStorage.setItem(SESSION_KEY, '1');
    else window.localStorage.removeItem(SESSION_KEY);
  } catch {
    /* private mode: fine */
  }
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  // Only ask who we are when this browser logged in before: an anonymous /me answers 403,
  // which browsers log as a console error on every first visit.
  const [askMe] = useState(hadSession);
  const [checking, setChecking] = useState(askMe);
  const [expired, setExpired] = useState(false);

  useEffect(() => {
    if (!askMe) return;
    request<User>('/api/v1/auth/me/', { quietAuth: true })
      .then((me) => {
        // An anonymous caller gets 200 {"authenticated": false}: the session is gone.
        if (!me || me.authenticated === false) {
          rememberSession(false);
          setExpired(true);
          setUser(null);
        } else setUser(me);
      })
      .catch((err) => {
        setUser(null);
        if (err?.status === 401 || err?.status === 403) {
          rememberSession(false);
          setExpired(true);
        }
      })
      .finally(() => setChecking(false));
  }, [askMe]);

  useEffect(
    () =>
      onSessionExpired(() => {
        rememberSession(false);
        setUser((current) => {
          if (current) setExpired(true);
          return null;
        });
      }),
    [],
  );

  const login = useCallback(async (username: string, password: string) => {
    await request('/api/v1/auth/csrf/', { quietAuth: true });
    const me = await request<User>('/api/v1/auth/login/', { method: 'POST', body: { username, password }, quietAuth: true });
    // Login rotates the CSRF token: take the fresh cookie before the next unsafe request.
    await request('/api/v1/auth/csrf/', { quietAuth: true }).catch(() => undefined);
    let full = me;
    try {
      const answer = await api.get<User>('/api/v1/auth/me/');
      if (answer && answer.authenticated !== false) full = answer;
    } catch {
      /* keep the login answer */
    }
    rememberSession(true);
    setExpired(false);
    setUser(full);
  }, []);

  const logout = useCallback(async () => {
    try {
      await request('/api/v1/auth/logout/', { method: 'POST', quietAuth: true });
    } finally {
      rememberSession(false);
      setExpired(false);
      setUser(null);
    }
  }, []);

  return <AuthContext.Provider value={{ user, checking, expired, login, logout }}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside AuthProvider');
  return ctx;
}
