// Accounts: the signed-in user's password and API tokens, and (staff) user management.
import { api, ApiError, type FieldErrors } from './api';
import type { User } from './types';

export interface ApiToken {
  id: string;
  name: string;
  created: string;
  expiry: string | null;
  /** The token this request authenticated with (never true for a browser session). */
  current: boolean;
}

/** The answer to creating a token: the only time its secret is ever sent. */
export interface NewToken {
  id: string;
  name: string;
  token: string;
  expiry: string | null;
}

export interface ManagedUser {
  id: number;
  username: string;
  is_staff: boolean;
  is_active: boolean;
  date_joined: string;
  last_login: string | null;
}

export const tokensApi = {
  list: (signal?: AbortSignal) => api.get<ApiToken[] | { results: ApiToken[] }>('/api/v1/auth/tokens/', signal).then(rows),
  create: (name: string) => api.post<NewToken>('/api/v1/auth/tokens/', { name }),
  revoke: (id: string) => api.del(`/api/v1/auth/tokens/${encodeURIComponent(id)}/`),
};

export const passwordApi = {
  change: (old_password: string, new_password: string) => api.post<void>('/api/v1/auth/password/', { old_password, new_password }),
};

export const usersApi = {
  list: (signal?: AbortSignal) => api.get<ManagedUser[] | { results: ManagedUser[] }>('/api/v1/users/', signal).then(rows),
  create: (body: { username: string; password: string; is_staff: boolean }) => api.post<ManagedUser>('/api/v1/users/', body),
  update: (id: number, body: Partial<Pick<ManagedUser, 'is_active' | 'is_staff'>>) => api.patch<ManagedUser>(`/api/v1/users/${id}/`, body),
  setPassword: (id: number, password: string) => api.post<void>(`/api/v1/users/${id}/password/`, { password }),
  /** Whether the platform runs in single-user mode now (asked again after a 409). */
  singleUserMode: () => api.get<User>('/api/v1/auth/me/').then((me) => !!me?.single_user_mode),
};

/** A list answer, plain or paginated ({results: [...]}). */
export function rows<T>(answer: T[] | { results?: T[] } | null | undefined): T[] {
  if (Array.isArray(answer)) return answer;
  if (answer && Array.isArray(answer.results)) return answer.results;
  return [];
}

export interface PasswordForm {
  old_password: string;
  new_password: string;
  confirm: string;
}

/** Checks made before asking the server (which applies the real password rules). */
export function passwordFormProblems(f: PasswordForm): FieldErrors {
  const out: FieldErrors = {};
  if (!f.old_password) out.old_password = ['Enter your current password.'];
  if (!f.new_password) out.new_password = ['Enter a new password.'];
  else if (f.new_password === f.old_password) out.new_password = ['The new password is the same as the current one.'];
  if (f.new_password && f.confirm !== f.new_password) out.confirm = ['The two new passwords differ.'];
  return out;
}

export interface NewUserForm {
  username: string;
  password: string;
  is_staff: boolean;
}

export function newUserProblems(f: NewUserForm): FieldErrors {
  const out: FieldErrors = {};
  if (!f.username.trim()) out.username = ['Enter a username.'];
  if (!f.password) out.password = ['Enter a password.'];
  return out;
}

/**
 * What a failed form submission shows: messages per form field, and the text for the alert
 * above the form (null when every message sits next to its field).
 * `aliases` maps an API field name to the form's field ('non_field_errors' etc. go to the alert).
 */
export function formErrors(
  err: unknown,
  fields: string[],
  aliases: Record<string, string> = {},
): { fields: FieldErrors; general: string | null } {
  if (!err) return { fields: {}, general: null };
  if (!(err instanceof ApiError)) return { fields: {}, general: err instanceof Error ? err.message : String(err) };
  const out: FieldErrors = {};
  const stray: string[] = [];
  for (const [key, msgs] of Object.entries(err.errors)) {
    const name = aliases[key] ?? key;
    if (fields.includes(name)) out[name] = [...(out[name] ?? []), ...msgs];
    else stray.push(...msgs);
  }
  const placed = Object.keys(out).length > 0;
  let general: string | null = null;
  if (stray.length) general = placed ? stray.join(' ') : [err.detail, ...stray.filter((m) => m !== err.detail)].join(' ');
  else if (!placed) general = err.detail;
  return { fields: out, general };
}

/** Text for a token's expiry: never / expired / the date. */
export function expiryText(expiry: string | null, now: number = Date.now()): { text: string; expired: boolean } {
  if (!expiry) return { text: 'never', expired: false };
  const t = new Date(expiry).getTime();
  if (Number.isNaN(t)) return { text: expiry, expired: false };
  return { text: new Date(t).toLocaleString(), expired: t <= now };
}

/** The signed-in user's Kafka access (GET /api/v1/auth/kafka/): where to connect, how, and
 *  the topic prefix the user owns. On the embedded broker `secured` is false and `notice`
 *  says the broker has no authentication. */
export interface KafkaAccess {
  secured: boolean;
  bootstrap_servers: string;
  security_protocol: string;
  sasl_mechanism: string | null;
  username: string | null;
  topic_prefix: string;
  group_prefix: string;
  control_topic: string;
  has_credentials: boolean;
  rotated_at: string | null;
  notice: string;
}

/** The answer to creating (or rotating) Kafka credentials: the only time the password is sent. */
export interface KafkaCredentials {
  username: string;
  password: string;
  security_protocol: string;
  sasl_mechanism: string | null;
  bootstrap_servers: string;
  rotated_at: string | null;
}

export const kafkaAccessApi = {
  get: (signal?: AbortSignal) => api.get<KafkaAccess>('/api/v1/auth/kafka/', signal),
  /** Creates the user's Kafka password, or replaces it (the old one stops working). */
  createCredentials: () => api.post<KafkaCredentials>('/api/v1/auth/kafka/credentials/'),
};
