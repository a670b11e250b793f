import { useEffect, useRef, useState } from 'react';
import { wsUrl } from './api';

export type SocketState = 'connecting' | 'open' | 'closed' | 'denied';

export interface SocketMessage {
  event: string;
  data: unknown;
}

/** A websocket that reconnects with back-off; `onMessage` gets each parsed `{event, data}`.
 *  Closing codes 4401/4404 (not logged in / not yours) stop reconnecting. */
export function useSocket(path: string | null, onMessage: (msg: SocketMessage) => void): SocketState {
  const [state, setState] = useState<SocketState>('connecting');
  const handler = useRef(onMessage);
  handler.current = onMessage;
  useEffect(() => {
    if (!path) {
      setState('closed');
      return;
    }
    let ws: WebSocket | null = null;
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      setState('connecting');
      ws = new WebSocket(wsUrl(path));
      ws.onopen = () => {
        attempt = 0;
        setState('open');
      };
      ws.onmessage = (e) => {
        try {
          handler.current(JSON.parse(e.data));
        } catch {
          /* ignore malformed frames */
        }
      };
      ws.onclose = (e) => {
        if (stopped) return;
        if (e.code === 4401 || e.code === 4404 || e.code === 4403) {
          setState('denied');
          return;
        }
        setState('closed');
        attempt++;
        timer = setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(attempt, 5)));
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      if (ws) {
        ws.onclose = null;
        ws.onmessage = null;
        if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws?.close();
        else ws.close();
      }
    };
  }, [path]);
  return state;
}

