import { useEffect, useState } from 'react';
import { wsUrl } from './api';
import { useLatest } from './useLatest';

/** `failing`: several tries in a row never opened (a refused handshake looks like this to a
 *  browser: the server answers 403 and the close code is 1006); it keeps retrying. */
export type SocketState = 'connecting' | 'open' | 'closed' | 'failing' | 'denied';

/** Close codes that mean "not for you" (not logged in, not found, forbidden, not yours): stop. */
export const REFUSAL_CODES = new Set([4401, 4403, 4404, 4409]);
const FAILING_AFTER = 3;

export interface SocketStatus {
  state: SocketState;
  /** Why the server refused or closed, when it said so (close reason or an `error` event). */
  reason: string | null;
}

export interface SocketMessage {
  event: string;
  data: unknown;
}

/** A websocket that reconnects with back-off; `onMessage` gets each parsed `{event, data}`.
 *  Closing codes 4401/4403/4404/4409 (not logged in / not yours) stop reconnecting. */
export function useSocket(path: string | null, onMessage: (msg: SocketMessage) => void): SocketState {
  return useSocketStatus(path, onMessage).state;
}

/** The text of an `error` event (`{event: "error", data: {detail}}` or a string). */
export function errorEventText(msg: SocketMessage): string | null {
  if (msg.event !== 'error') return null;
  if (typeof msg.data === 'string') return msg.data;
  const detail = (msg.data as { detail?: unknown } | null)?.detail;
  return typeof detail === 'string' && detail ? detail : 'The server refused this stream.';
}

export function useSocketStatus(path: string | null, onMessage: (msg: SocketMessage) => void): SocketStatus {
  // The status is tagged with the path it belongs to: a new path starts as `connecting` with no
  // reason without any state being reset synchronously when the effect starts.
  const [status, setStatus] = useState<SocketStatus & { path: string | null }>({ path: null, state: 'connecting', reason: null });
  const handler = useLatest(onMessage);
  useEffect(() => {
    if (!path) return;
    const update = (change: Partial<SocketStatus>) =>
      setStatus((s) => (s.path === path ? { ...s, ...change } : { path, state: 'connecting', reason: null, ...change }));
    const setState = (state: SocketState) => update({ state });
    const setReason = (reason: string | null) => update({ reason });
    let ws: WebSocket | null = null;
    let stopped = false;
    let attempt = 0;
    let failedOpens = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      if (attempt > 0 && failedOpens < FAILING_AFTER) setState('connecting');
      ws = new WebSocket(wsUrl(path));
      let opened = false;
      let refusedHere = false;
      ws.onopen = () => {
        opened = true;
        attempt = 0;
        failedOpens = 0;
        setState('open');
      };
      ws.onmessage = (e) => {
        let msg: SocketMessage;
        try {
          msg = JSON.parse(e.data);
        } catch {
          return; /* ignore malformed frames */
        }
        const refusal = errorEventText(msg);
        if (refusal) {
          refusedHere = true;
          setReason(refusal);
        }
        try {
          handler.current(msg);
        } catch {
          /* a page's handler failing must not end the stream */
        }
      };
      ws.onclose = (e) => {
        if (stopped) return;
        // Refused with a code, or told why (an `error` event) and then closed: don't retry.
        if (REFUSAL_CODES.has(e.code) || refusedHere) {
          if (e.reason) setReason(e.reason);
          setState('denied');
          return;
        }
        failedOpens = opened ? 0 : failedOpens + 1;
        setState(failedOpens >= FAILING_AFTER ? 'failing' : 'closed');
        attempt++;
        timer = setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(attempt, 5)));
      };
    };
    connect();
    return () => {
      stopped = true;
      // Forget this connection's status: the same path opened again starts afresh.
      setStatus((s) => (s.path === path ? { path: null, state: 'connecting', reason: null } : s));
      clearTimeout(timer);
      if (ws) {
        ws.onclose = null;
        ws.onmessage = null;
        if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws?.close();
        else ws.close();
      }
    };
  }, [path, handler]);
  if (!path) return { state: 'closed', reason: null };
  if (status.path !== path) return { state: 'connecting', reason: null };
  return { state: status.state, reason: status.reason };
}
