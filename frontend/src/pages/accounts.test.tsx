import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { ChangePasswordForm, KafkaAccessPanel, TokensPanel } from './Account';
import { NewUserFormView, UsersView } from './Users';
import { ApiError } from '../lib/api';
import type { ApiToken, KafkaAccess, KafkaCredentials, ManagedUser, NewToken } from '../lib/accounts';
import { SendDataView } from '../components/SendData';

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
    const onSubmit = vi.fn().mockRejectedValue(
      new ApiError(400, {
        detail: 'Invalid password.',
        errors: { old_password: ['Your current password is wrong.'], new_password: ['This password is too common.'] },
      }),
    );
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

const EMBEDDED_NOTICE = 'The embedded broker has no authentication: it is not a security boundary.';
const embeddedKafka: KafkaAccess = {
  secured: false,
  bootstrap_servers: 'localhost:9190',
  security_protocol: 'PLAINTEXT',
  sasl_mechanism: null,
  username: null,
  topic_prefix: 'alice.',
  group_prefix: 'alice.',
  control_topic: 'KAFKA_ML_CONTROL_TOPIC',
  has_credentials: false,
  rotated_at: null,
  notice: EMBEDDED_NOTICE,
};
const securedKafka: KafkaAccess = {
  ...embeddedKafka,
  secured: true,
  bootstrap_servers: 'kafka.example.org:9093',
  security_protocol: 'SASL_SSL',
  sasl_mechanism: 'SCRAM-SHA-512',
  username: 'user.alice',
  notice: 'Kafka checks who you are. With your credentials you may read, write and create topics starting with alice.',
};

function fakeKafka(initial: KafkaAccess) {
  let access = { ...initial };
  let n = 0;
  return {
    get: vi.fn(async () => ({ ...access })),
    createCredentials: vi.fn(async (): Promise<KafkaCredentials> => {
      if (!access.secured) throw new ApiError(409, { detail: access.notice });
      n += 1;
      access = { ...access, has_credentials: true, rotated_at: `2026-12-07T0${n}:00:00Z` };
      return {
        username: 'user.alice',
        password: `kafka-secret-${n}`,
        security_protocol: access.security_protocol,
        sasl_mechanism: access.sasl_mechanism,
        bootstrap_servers: access.bootstrap_servers,
        rotated_at: access.rotated_at,
      };
    }),
  };
}

describe('Kafka access', () => {
  it('on the embedded broker shows the prefix and the notice, and offers no credentials', async () => {
    render(<KafkaAccessPanel client={fakeKafka(embeddedKafka)} />);
    expect((await screen.findByTestId('kafka-topic-prefix')).textContent).toBe('alice.');
    expect(screen.getByTestId('kafka-unsecured-notice').textContent).toBe(`Not a security boundary. ${EMBEDDED_NOTICE}`);
    expect(screen.getByText('localhost:9190')).toBeTruthy();
    expect(screen.getByText('PLAINTEXT')).toBeTruthy();
    expect(screen.queryByRole('button', { name: /credentials/ })).toBeNull();
  });

  it('on a secured broker creates credentials, shows the password once, then offers rotation', async () => {
    const client = fakeKafka(securedKafka);
    render(<KafkaAccessPanel client={client} />);
    expect(await screen.findByText('user.alice')).toBeTruthy();
    expect(screen.queryByTestId('kafka-unsecured-notice')).toBeNull();
    expect(screen.getByTestId('kafka-secured-notice').textContent).toMatch(/Kafka checks who you are/);
    expect(screen.getByText('none yet')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Create credentials' }));
    const reveal = await screen.findByTestId('new-kafka-credentials');
    expect(within(reveal).getByText('kafka-secret-1')).toBeTruthy();
    expect(reveal.textContent).toMatch(/you will not see it again/);
    expect(within(reveal).getAllByRole('button', { name: 'Copy' })).toHaveLength(2);
    expect(await screen.findByRole('button', { name: 'Rotate credentials' })).toBeTruthy();
    expect(screen.getByText(/last rotated/)).toBeTruthy();
    fireEvent.click(within(reveal).getByRole('button', { name: 'I have copied it' }));
    expect(screen.queryByTestId('new-kafka-credentials')).toBeNull();
    expect(document.body.textContent).not.toContain('kafka-secret-1');

    const confirm = vi.spyOn(window, 'confirm').mockReturnValueOnce(false).mockReturnValueOnce(true);
    fireEvent.click(screen.getByRole('button', { name: 'Rotate credentials' }));
    expect(client.createCredentials).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByRole('button', { name: 'Rotate credentials' }));
    expect(within(await screen.findByTestId('new-kafka-credentials')).getByText('kafka-secret-2')).toBeTruthy();
    expect(client.createCredentials).toHaveBeenCalledTimes(2);
    confirm.mockRestore();
  });

  it('shows the reason when the server refuses credentials (409)', async () => {
    const client = fakeKafka(securedKafka);
    client.createCredentials.mockRejectedValueOnce(new ApiError(409, { detail: 'This broker has no authentication.' }));
    render(<KafkaAccessPanel client={client} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Create credentials' }));
    expect(await screen.findByText('This broker has no authentication.')).toBeTruthy();
    expect(screen.queryByTestId('new-kafka-credentials')).toBeNull();
  });

  it('a TLS-only cluster without platform credentials: the notice without the embedded-broker warning, and SSL in the snippet', () => {
    const tlsOnly: KafkaAccess = {
      ...embeddedKafka,
      security_protocol: 'SSL',
      notice: 'The platform does not issue Kafka credentials on this cluster (security protocol SSL).',
    };
    render(<SendDataView deploymentId={7} access={tlsOnly} />);
    const notice = screen.getByTestId('kafka-unsecured-notice').textContent ?? '';
    expect(notice).toMatch(/does not issue Kafka credentials/);
    expect(notice).not.toMatch(/Not a security boundary/);
    const snippet = screen.getByLabelText('Send data snippet').textContent ?? '';
    expect(snippet).toContain('security_protocol="SSL"');
    expect(snippet).not.toContain('sasl');
  });

  it('falls back to the derived prefix when the server has no Kafka endpoint (404)', async () => {
    const client = fakeKafka(embeddedKafka);
    client.get.mockRejectedValue(new ApiError(404, { detail: 'Not found.' }));
    render(<KafkaAccessPanel client={client} fallback={{ ...embeddedKafka, topic_prefix: 'bob.', notice: '' }} />);
    expect((await screen.findByTestId('kafka-topic-prefix')).textContent).toBe('bob.');
    expect(screen.getByText(/does not report Kafka settings yet/)).toBeTruthy();
  });

  it('the send-data snippet warns on the embedded broker and carries the security settings when secured', () => {
    const { unmount } = render(<SendDataView deploymentId={7} access={embeddedKafka} />);
    expect(screen.getByTestId('kafka-unsecured-notice').textContent).toContain(EMBEDDED_NOTICE);
    const snippet = screen.getByLabelText('Send data snippet').textContent ?? '';
    expect(snippet).toContain('topic="alice.train-7"');
    expect(snippet).not.toContain('sasl');
    unmount();
    render(<SendDataView deploymentId={7} access={securedKafka} />);
    expect(screen.queryByTestId('kafka-unsecured-notice')).toBeNull();
    expect(screen.queryByTestId('kafka-secured-notice')).toBeNull();
    expect(screen.getByLabelText('Send data snippet').textContent).toContain('sasl_plain_username="user.alice"');
    fireEvent.click(screen.getByRole('tab', { name: 'Command line' }));
    expect(screen.getByLabelText('Send data snippet').textContent).toContain('--sasl-username user.alice');
  });
});

const admin: ManagedUser = {
  id: 1,
  username: 'admin',
  is_staff: true,
  is_active: true,
  date_joined: '2026-12-01T10:00:00Z',
  last_login: '2026-12-04T10:00:00Z',
};
const ana: ManagedUser = {
  id: 2,
  username: 'ana',
  is_staff: false,
  is_active: true,
  date_joined: '2026-12-02T10:00:00Z',
  last_login: null,
};

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
  render(
    <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <UsersView client={client} me={1} singleUser={singleUser} />
    </MemoryRouter>,
  );

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
    client.create.mockRejectedValueOnce(
      new ApiError(400, { detail: 'Invalid input.', errors: { password: ['This password is too short.'] } }),
    );
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
    client.create.mockRejectedValueOnce(
      new ApiError(409, { detail: "A user named 'admin' already exists.", errors: { username: ["A user named 'admin' already exists."] } }),
    );
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
