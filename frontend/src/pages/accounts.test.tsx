import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { ChangePasswordForm, TokensPanel } from './Account';
import { NewUserFormView, UsersView } from './Users';
import { ApiError } from '../lib/api';
import type { ApiToken, ManagedUser, NewToken } from '../lib/accounts';

const type = (label: string | RegExp, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } });

describe('change password', () => {
  it('checks the confirmation before asking the server', async () => {
    const onSubmit = vi.fn();
    render(<ChangePasswordForm onSubmit={onSubmit} />);
    type('Current password', 'old');
    type('New password', 'a-new-passphrase');
    type('Confirm new password', 'another');
    fireEvent.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByText('The two new passwords differ.')).toBeTruthy();
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it('shows the API field errors next to their fields', async () => {
    const onSubmit = vi.fn().mockRejectedValue(new ApiError(400, {
      detail: 'Invalid password.',
      errors: { old_password: ['Your current password is wrong.'], new_password: ['This password is too common.'] },
    }));
    render(<ChangePasswordForm onSubmit={onSubmit} />);
    type('Current password', 'old');
    type('New password', 'password123');
    type('Confirm new password', 'password123');
    fireEvent.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByText('This password is too common.')).toBeTruthy();
    expect(onSubmit).toHaveBeenCalledWith('old', 'password123');
    expect(screen.getByText('Your current password is wrong.').closest('.field')?.querySelector('input')?.id).toBe('pw-old');
    expect(screen.queryByText('Invalid password.')).toBeNull();
  });

  it('clears the form and says so when it worked', async () => {
    render(<ChangePasswordForm onSubmit={vi.fn().mockResolvedValue(undefined)} />);
    type('Current password', 'old');
    type('New password', 'a-new-passphrase');
    type('Confirm new password', 'a-new-passphrase');
    fireEvent.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByText(/Password changed/)).toBeTruthy();
    expect((screen.getByLabelText('New password') as HTMLInputElement).value).toBe('');
  });
});

function fakeTokens(initial: ApiToken[] = []) {
  let list = [...initial];
  const secret = 'f'.repeat(48);
  return {
    list: vi.fn(async () => list.map((t) => ({ ...t }))),
    create: vi.fn(async (name: string): Promise<NewToken> => {
      const t = { id: `t${list.length + 1}`, name, created: '2026-12-04T10:00:00Z', expiry: '2027-03-04T10:00:00Z', current: false };
      list = [...list, t];
      return { id: t.id, name, token: secret, expiry: t.expiry };
    }),
    revoke: vi.fn(async (id: string) => {
      list = list.filter((t) => t.id !== id);
    }),
    secret,
  };
}

describe('API tokens', () => {
  it('shows a new token once, with a warning, and never again', async () => {
    const client = fakeTokens([{ id: 's', name: 'browser', created: '2026-12-01T10:00:00Z', expiry: null, current: true }]);
    render(<TokensPanel client={client} />);
    expect(await screen.findByText('this session')).toBeTruthy();
    expect(screen.getByText('never')).toBeTruthy();
    type('Token name', 'laptop');
    fireEvent.click(screen.getByRole('button', { name: 'Create token' }));
    const reveal = await screen.findByTestId('new-token');
    expect(within(reveal).getByText(client.secret)).toBeTruthy();
    expect(reveal.textContent).toMatch(/you will not see it again/);
    // jsdom has no clipboard: the button selects the token for Ctrl+C instead.
    fireEvent.click(within(reveal).getByRole('button', { name: 'Copy' }));
    expect(await within(reveal).findByRole('button', { name: /press Ctrl\+C/ })).toBeTruthy();
    expect(window.getSelection()?.toString()).toBe(client.secret);
    expect(client.create).toHaveBeenCalledWith('laptop');
    // The list shows the new row, without its secret.
    const row = await screen.findByTestId('token-laptop');
    expect(row.textContent).not.toContain(client.secret);
    fireEvent.click(screen.getByRole('button', { name: 'I have copied it' }));
    expect(screen.queryByTestId('new-token')).toBeNull();
    expect(document.body.textContent).not.toContain(client.secret);
  });

  it('revokes after confirmation', async () => {
    const client = fakeTokens([{ id: 'a', name: 'ci', created: '2026-12-01T10:00:00Z', expiry: '2000-01-01T00:00:00Z', current: false }]);
    render(<TokensPanel client={client} />);
    const row = await screen.findByTestId('token-ci');
    expect(within(row).getByText('expired')).toBeTruthy();
    const confirm = vi.spyOn(window, 'confirm').mockReturnValueOnce(false).mockReturnValueOnce(true);
    fireEvent.click(within(row).getByRole('button', { name: 'Revoke' }));
    expect(client.revoke).not.toHaveBeenCalled();
    fireEvent.click(within(row).getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(client.revoke).toHaveBeenCalledWith('a'));
    expect(await screen.findByText('No API tokens')).toBeTruthy();
    confirm.mockRestore();
  });

  it('shows the throttling message when creating fails with 429', async () => {
    const client = fakeTokens();
    client.create.mockRejectedValueOnce(new ApiError(429, { detail: 'Too many requests: try again in 30 seconds.' }));
    render(<TokensPanel client={client} />);
    await screen.findByText('No API tokens');
    type('Token name', 'x');
    fireEvent.click(screen.getByRole('button', { name: 'Create token' }));
    expect(await screen.findByText(/try again in 30 seconds/)).toBeTruthy();
    expect(screen.queryByTestId('new-token')).toBeNull();
  });
});

const admin: ManagedUser = { id: 1, username: 'admin', is_staff: true, is_active: true, date_joined: '2026-12-01T10:00:00Z', last_login: '2026-12-04T10:00:00Z' };
const ana: ManagedUser = { id: 2, username: 'ana', is_staff: false, is_active: true, date_joined: '2026-12-02T10:00:00Z', last_login: null };

function fakeUsers(initial: ManagedUser[]) {
  let list = [...initial];
  return {
    list: vi.fn(async () => ({ results: list.map((u) => ({ ...u })) })) as never as (s?: AbortSignal) => Promise<ManagedUser[]>,
    create: vi.fn(async (b: { username: string; password: string; is_staff: boolean }) => {
      const u = { ...ana, id: list.length + 1, username: b.username, is_staff: b.is_staff };
      list = [...list, u];
      return u;
    }),
    update: vi.fn(async (id: number, body: Partial<ManagedUser>) => {
      list = list.map((u) => (u.id === id ? { ...u, ...body } : u));
      return list.find((u) => u.id === id)!;
    }),
    setPassword: vi.fn(async () => undefined),
    singleUserMode: vi.fn(async () => false),
  };
}

const renderUsers = (client: ReturnType<typeof fakeUsers>, singleUser = false) =>
  render(<MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}><UsersView client={client} me={1} singleUser={singleUser} /></MemoryRouter>);

describe('users', () => {
  it('lists users with badges; you cannot disable yourself', async () => {
    renderUsers(fakeUsers([admin, ana]));
    const me = await screen.findByTestId('user-admin');
    expect(within(me).getByText('staff')).toBeTruthy();
    expect((within(me).getByRole('button', { name: 'Disable' }) as HTMLButtonElement).disabled).toBe(true);
    const other = screen.getByTestId('user-ana');
    expect(within(other).getByText('active')).toBeTruthy();
    expect((within(other).getByRole('button', { name: 'Disable' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('disables and enables a user', async () => {
    const client = fakeUsers([admin, ana]);
    renderUsers(client);
    const row = await screen.findByTestId('user-ana');
    const confirm = vi.spyOn(window, 'confirm').mockReturnValue(true);
    fireEvent.click(within(row).getByRole('button', { name: 'Disable' }));
    expect(await within(row).findByText('disabled')).toBeTruthy();
    expect(client.update).toHaveBeenCalledWith(2, { is_active: false });
    fireEvent.click(within(row).getByRole('button', { name: 'Enable' }));
    expect(await within(row).findByText('active')).toBeTruthy();
    expect(client.update).toHaveBeenLastCalledWith(2, { is_active: true });
    confirm.mockRestore();
  });

  it('creates a user and shows a weak-password error next to the field', async () => {
    const client = fakeUsers([admin]);
    client.create.mockRejectedValueOnce(new ApiError(400, { detail: 'Invalid input.', errors: { password: ['This password is too short.'] } }));
    renderUsers(client);
    await screen.findByTestId('user-admin');
    type('Username', 'bob');
    type('Password', 'short');
    fireEvent.click(screen.getByLabelText(/^Staff/));
    fireEvent.click(screen.getByRole('button', { name: 'Create user' }));
    expect(await screen.findByText('This password is too short.')).toBeTruthy();
    type('Password', 'a-long-enough-passphrase');
    fireEvent.click(screen.getByRole('button', { name: 'Create user' }));
    expect(await screen.findByTestId('user-bob')).toBeTruthy();
    expect(client.create).toHaveBeenLastCalledWith({ username: 'bob', password: 'a-long-enough-passphrase', is_staff: true });
    expect(screen.getByText(/User “bob” created/)).toBeTruthy();
  });

  it('resets a password in a dialog', async () => {
    const client = fakeUsers([admin, ana]);
    renderUsers(client);
    const row = await screen.findByTestId('user-ana');
    fireEvent.click(within(row).getByRole('button', { name: 'Reset password' }));
    const dialog = screen.getByRole('dialog', { name: /ana/ });
    fireEvent.change(within(dialog).getByLabelText('New password'), { target: { value: 'another-passphrase' } });
    fireEvent.change(within(dialog).getByLabelText('Confirm'), { target: { value: 'another-passphrase' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Set password' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(client.setPassword).toHaveBeenCalledWith(2, 'another-passphrase');
    expect(screen.getByText('Password of ana reset.')).toBeTruthy();
  });

  it('in single-user mode explains why and disables the form', async () => {
    renderUsers(fakeUsers([admin]), true);
    expect(screen.getByTestId('single-user').textContent).toMatch(/docs\/security\.md/);
    expect((screen.getByRole('button', { name: 'Create user' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('a taken username (409) is shown next to the field', async () => {
    const client = fakeUsers([admin]);
    client.create.mockRejectedValueOnce(new ApiError(409, { detail: "A user named 'admin' already exists.", errors: { username: ["A user named 'admin' already exists."] } }));
    renderUsers(client);
    await screen.findByTestId('user-admin');
    type('Username', 'admin');
    type('Password', 'a-long-enough-passphrase');
    fireEvent.click(screen.getByRole('button', { name: 'Create user' }));
    expect(await screen.findByText("A user named 'admin' already exists.")).toBeTruthy();
    await waitFor(() => expect(client.singleUserMode).toHaveBeenCalled());
    expect(screen.queryByTestId('single-user')).toBeNull();
  });

  it('a 409 from create in single-user mode shows the banner', async () => {
    const onSubmit = vi.fn().mockRejectedValue(new ApiError(409, { detail: 'Single-user mode: no second user.' }));
    const client = fakeUsers([admin]);
    client.singleUserMode.mockResolvedValue(true);
    client.create.mockImplementation(onSubmit);
    renderUsers(client);
    await screen.findByTestId('user-admin');
    type('Username', 'bob');
    type('Password', 'a-long-enough-passphrase');
    fireEvent.click(screen.getByRole('button', { name: 'Create user' }));
    expect(await screen.findByTestId('single-user')).toBeTruthy();
    expect(screen.getByText('Single-user mode: no second user.')).toBeTruthy();
  });

  it('the bare form asks for a username first', async () => {
    const onSubmit = vi.fn();
    render(<NewUserFormView onSubmit={onSubmit} />);
    fireEvent.click(screen.getByRole('button', { name: 'Create user' }));
    expect(await screen.findByText('Enter a username.')).toBeTruthy();
    expect(onSubmit).not.toHaveBeenCalled();
  });
});
