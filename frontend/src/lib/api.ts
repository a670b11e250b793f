// The one way the UI talks to the backend: JSON over fetch, session cookie + CSRF header.

export type FieldErrors = Record<string, string[]>;

export class ApiError extends Error {
  status: number;
  detail: string;
  errors: FieldErrors;
  body: Record<string, unknown>;
  /** Seconds to wait before trying again (429: Retry-After header, or “… in N seconds” in detail). */
  retryAfter: number | null;
  constructor(status: number, body: Record<string, unknown>, retryAfterHeader?: string | null) {
    const detail =
      typeof body.detail === 'string' && body.detail
        ? body.detail
        : status === 429
          ? 'Too many attempts. Wait a moment and try again.'
          : `Request failed (${status})`;
    super(detail);
    this.status = status;
    this.detail = detail;
    this.errors = normalizeErrors(body.errors);
    this.body = body;
    this.retryAfter = status === 429 ? parseRetryAfter(retryAfterHeader, detail) : null;
  }
  /** Messages for one field (also matches nested keys like `field.sub`). */
  field(name: string): string[] {
    const out: string[] = [];
    for (const [k, v] of Object.entries(this.errors)) {
      if (k === name || k.startsWith(name + '.')) out.push(...v);
    }
    return out;
  }
}

/** `errors` as {field: [messages]}, whatever shape came (a bare string per field too). */
export function normalizeErrors(raw: unknown): FieldErrors {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return {};
  const out: FieldErrors = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const list = Array.isArray(v) ? v : [v];
    const msgs = list.filter((m) => m != null && m !== '').map((m) => (typeof m === 'string' ? m : JSON.stringify(m)));
    if (msgs.length) out[k] = msgs;
  }
  return out;
}

/** Seconds from a Retry-After header (seconds only) or from “… try again in N seconds”. */
export function parseRetryAfter(header: string | null | undefined, detail: string): number | null {
  const h = header?.trim();
  if (h && /^\d+$/.test(h)) return Number(h);
  const m = /(\d+)\s*(?:seconds?|s)\b/i.exec(detail);
  return m ? Number(m[1]) : null;
}

type Listener = () => void;
const expiredListeners = new Set<Listener>();
/** Called when any request answers 401/403 for a logged-in user. */
export function onSessionExpired(fn: Listener): () => void {
  expiredListeners.add(fn);
  return () => expiredListeners.delete(fn);
}

export function getCookie(name: string): string | null {
  const match = document.cookie.split('; ').find((row) => row.startsWith(name + '='));
  return match ? decodeURIComponent(match.slice(name.length + 1)) : null;
}

let csrfPromise: Promise<void> | null = null;
async function ensureCsrf(): Promise<void> {
  if (getCookie('csrftoken')) return;
  csrfPromise ??= fetch('/api/v1/auth/csrf/', { credentials: 'same-origin' }).then(() => undefined);
  await csrfPromise;
  csrfPromise = null;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** Don't treat 401/403 as an expired session (login, me). */
  quietAuth?: boolean;
  signal?: AbortSignal;
}

export async function request<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = (opts.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (!['GET', 'HEAD', 'OPTIONS'].includes(method)) {
    await ensureCsrf();
    headers['X-CSRFToken'] = getCookie('csrftoken') ?? '';
  }
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: opts.signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, { detail: 'The server cannot be reached. Is Kafka-ML running?' });
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text.slice(0, 300) };
    }
  }
  if (!response.ok) {
    if ((response.status === 401 || response.status === 403) && !opts.quietAuth) {
      expiredListeners.forEach((fn) => fn());
    }
    const errBody = data && typeof data === 'object' ? (data as Record<string, unknown>) : { detail: String(data ?? '') };
    throw new ApiError(response.status, errBody, response.headers.get('Retry-After'));
  }
  return data as T;
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal) => request<T>(path, { signal }),
  post: <T>(path: string, body?: unknown) => request<T>(path, { method: 'POST', body }),
  patch: <T>(path: string, body?: unknown) => request<T>(path, { method: 'PATCH', body }),
  put: <T>(path: string, body?: unknown) => request<T>(path, { method: 'PUT', body }),
  del: (path: string) => request<void>(path, { method: 'DELETE' }),
};

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** Every row of a paginated list (the UI's lists are small; stop at 1,000 rows). */
export async function listAll<T>(path: string, signal?: AbortSignal): Promise<T[]> {
  const sep = path.includes('?') ? '&' : '?';
  let url: string | null = `${path}${sep}page_size=200`;
  const out: T[] = [];
  while (url && out.length < 1000) {
    const page: Page<T> | T[] = await api.get<Page<T> | T[]>(url, signal);
    if (Array.isArray(page)) return page;
    out.push(...page.results);
    url = page.next ? new URL(page.next, window.location.origin).pathname + new URL(page.next, window.location.origin).search : null;
  }
  return out;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.detail;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Websocket URL for a path, on the page's own host. */
export function wsUrl(path: string): string {
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${window.location.host}${path}`;
}
