import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import Login from './Login';
import { AuthProvider, useAuth } from '../auth';

function answer(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

afterEach(() => vi.unstubAllGlobals());

describe('login form', () => {
  it('shows a 429 (too many attempts) and waits before the next try', async () => {
    document.cookie = 'csrftoken=abc';
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        if (url.includes('/auth/csrf/')) return answer(200, {});
        return answer(429, { detail: 'Too many failed logins: try again in 42 seconds.' });
      }),
    );
    render(
      <AuthProvider>
        <Login />
      </AuthProvider>,
    );
    fireEvent.change(screen.getByLabelText('Username'), { target: { value: 'admin' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'wrong' } });
    fireEvent.click(screen.getByRole('button', { name: /Log in/ }));
    expect(await screen.findByText('Too many failed logins: try again in 42 seconds.')).toBeTruthy();
    const button = screen.getByRole('button', { name: /Log in/ }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(button.textContent).toMatch(/wait 4[12] s/);
  });

  it('shows a wrong password next to the field', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        if (url.includes('/auth/csrf/')) return answer(200, {});
        return answer(400, { detail: 'Wrong username or password.', errors: { password: ['Wrong username or password.'] } });
      }),
    );
    render(
      <AuthProvider>
        <Login />
      </AuthProvider>,
    );
    fireEvent.change(screen.getByLabelText('Username'), { target: { value: 'admin' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'wrong' } });
    fireEvent.click(screen.getByRole('button', { name: /Log in/ }));
    expect(await screen.findByText('Wrong username or password.')).toBeTruthy();
    expect((screen.getByRole('button', { name: /Log in/ }) as HTMLButtonElement).disabled).toBe(false);
  });
});

function Who() {
  const { user, checking, expired } = useAuth();
  return <div data-testid="who">{checking ? 'checking' : user ? user.username : expired ? 'expired' : 'anonymous'}</div>;
}

describe('session check', () => {
  it('treats /auth/me/ answering {authenticated: false} as logged out', async () => {
    window.localStorage.setItem('kafkaml.session', '1');
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => answer(200, { authenticated: false })),
    );
    render(
      <AuthProvider>
        <Who />
      </AuthProvider>,
    );
    expect(await screen.findByText('expired')).toBeTruthy();
    expect(window.localStorage.getItem('kafkaml.session')).toBeNull();
  });

  it('keeps a signed-in user', async () => {
    window.localStorage.setItem('kafkaml.session', '1');
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => answer(200, { authenticated: true, id: 1, username: 'ana', is_staff: false, single_user_mode: false })),
    );
    render(
      <AuthProvider>
        <Who />
      </AuthProvider>,
    );
    expect(await screen.findByText('ana')).toBeTruthy();
  });
});
