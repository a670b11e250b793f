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

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [checking, setChecking] = useState(true);
  const [expired, setExpired] = useState(false);

  useEffect(() => {
    request<User>('/api/v1/auth/me/', { quietAuth: true })
      .then(setUser)
      .catch(() => setUser(null))
      .finally(() => setChecking(false));
  }, []);

  useEffect(
    () =>
      onSessionExpired(() => {
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
      full = await api.get<User>('/api/v1/auth/me/');
    } catch {
      /* keep the login answer */
    }
    setExpired(false);
    setUser(full);
  }, []);

  const logout = useCallback(async () => {
    try {
      await request('/api/v1/auth/logout/', { method: 'POST', quietAuth: true });
    } finally {
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
