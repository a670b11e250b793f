import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, render, renderHook, screen } from '@testing-library/react';
import { useSocketStatus } from './socket';
import { StreamRefusal, selectionRefusal } from '../pages/Visualization';

/** A WebSocket the test drives: open it, send it frames, close it with a code. */
class FakeSocket {
  static all: FakeSocket[] = [];
  static CONNECTING = 0;
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  constructor(public url: string) {
    FakeSocket.all.push(this);
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  frame(msg: unknown) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  shut(code: number, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  close() {
    this.readyState = 3;
  }
}

const latest = () => FakeSocket.all[FakeSocket.all.length - 1];

describe('websocket refusals', () => {
  const original = globalThis.WebSocket;
  beforeEach(() => {
    FakeSocket.all = [];
    globalThis.WebSocket = FakeSocket as unknown as typeof WebSocket;
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    globalThis.WebSocket = original;
  });

  it('a refusal close code stops reconnecting and keeps the reason', () => {
    const { result } = renderHook(() => useSocketStatus('/ws/predictions/?topic=bob.out', () => undefined));
    expect(result.current.state).toBe('connecting');
    act(() => latest().shut(4409, 'Topic bob.out is not yours.'));
    expect(result.current).toEqual({ state: 'denied', reason: 'Topic bob.out is not yours.' });
    act(() => void vi.advanceTimersByTime(20_000));
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('an error event, then a close, is a refusal too', () => {
    const onMessage = vi.fn();
    const { result } = renderHook(() => useSocketStatus('/ws/predictions/?inference=3', onMessage));
    act(() => latest().open());
    act(() => latest().frame({ event: 'error', data: { detail: 'This inference is not yours.' } }));
    act(() => latest().shut(1000));
    expect(result.current).toEqual({ state: 'denied', reason: 'This inference is not yours.' });
    expect(onMessage).toHaveBeenCalledWith({ event: 'error', data: { detail: 'This inference is not yours.' } });
  });

  it('handshakes refused again and again (code 1006) end as failing, not an endless spinner', () => {
    const { result } = renderHook(() => useSocketStatus('/ws/predictions/?topic=x', () => undefined));
    for (let i = 0; i < 3; i++) {
      act(() => latest().shut(1006));
      if (i < 2) expect(result.current.state).toBe('closed');
      act(() => void vi.advanceTimersByTime(10_000));
    }
    expect(result.current.state).toBe('failing');
    // It keeps trying, and recovers when the server answers again.
    act(() => latest().open());
    expect(result.current.state).toBe('open');
  });
});

describe('visualization selection', () => {
  const own = [{ id: 3, output_topic: 'alice.m-out' }];
  it("refuses what is not the user's own before asking the server", () => {
    expect(selectionRefusal(null, '', 'bob.out')).toBeNull();
    expect(selectionRefusal(own, '3', '')).toBeNull();
    expect(selectionRefusal(own, '', 'alice.m-out', 'alice.')).toBeNull();
    // any topic of the user's namespace, not only inference outputs
    expect(selectionRefusal(own, '', 'alice.sensors', 'alice.')).toBeNull();
    expect(selectionRefusal(own, '4', '')).toMatch(/not one of yours/);
    expect(selectionRefusal(own, '', 'bob.out', 'alice.')).toMatch(/“bob.out” is not yours: your topics start with “alice.”/);
  });
  it("shows the server's reason as an error, not a spinner", () => {
    render(<StreamRefusal refusal={null} socket={{ state: 'denied', reason: 'Topic bob.out is not yours.' }} />);
    expect(screen.getByRole('alert').textContent).toBe('Topic bob.out is not yours.');
    expect(screen.queryByRole('status')).toBeNull();
  });
  it('says so when the stream never opens', () => {
    render(<StreamRefusal refusal={null} socket={{ state: 'failing', reason: null }} />);
    expect(screen.getByTestId('stream-failing').textContent).toMatch(/cannot be opened/);
  });
});
