import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import type { Inference } from '../lib/types';

const inferences: Partial<Inference>[] = [];
vi.mock('../lib/api', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/api')>()),
  listAll: vi.fn(async () => inferences),
  api: { get: vi.fn(async () => ({ artifacts: [] })) },
}));
vi.mock('../lib/kafkaAccess', () => ({
  useKafkaAccess: () => ({ access: { topic_prefix: 'alice.' }, fromServer: true, error: null, loading: false }),
}));

const { default: Visualization, outputKindOf, recordText } = await import('./Visualization');

const sockets: string[] = [];
class NoSocket {
  constructor(url: string) {
    sockets.push(url);
  }
  close() {}
  addEventListener() {}
  removeEventListener() {}
}

describe('visualization of a stopped inference (issue 13, 10)', () => {
  const original = globalThis.WebSocket;
  beforeEach(() => {
    sockets.length = 0;
    globalThis.WebSocket = NoSocket as unknown as typeof WebSocket;
  });
  afterEach(() => {
    globalThis.WebSocket = original;
  });

  it('shows one clear state: stopped, no live badge, no waiting, no stream', async () => {
    inferences.splice(0, inferences.length, {
      id: 7,
      status: 'stopped',
      model_name: 'Digits',
      output_topic: 'alice.out',
      input_topic: 'alice.in',
      serving_result: 3,
      model_version: 1,
      error: '',
    });
    render(
      <MemoryRouter initialEntries={['/visualization?inference=7']} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <Visualization />
      </MemoryRouter>,
    );
    const ended = await screen.findByTestId('inference-ended');
    expect(ended.textContent).toContain('This inference is stopped');
    const page = document.body.textContent ?? '';
    expect(page).not.toMatch(/Waiting for predictions/);
    expect(page).not.toMatch(/Listening from now on/);
    expect(document.querySelector('.live-dot, [data-testid="live-dot"]')).toBeNull();
    expect(page).not.toMatch(/\blive\b|connecting/);
    await waitFor(() => expect(sockets).toEqual([]));
  });
});

describe('output kind of the served model', () => {
  it('reads the artifact metadata of the served version', () => {
    const result = {
      artifacts: [
        { version: 1, metadata: { output_kind: 'logits' } },
        { version: 2, metadata: {} },
      ],
    } as never;
    expect(outputKindOf(result, 1)).toBe('logits');
    expect(outputKindOf(result, 2)).toBeNull();
    expect(outputKindOf(null, 1)).toBeNull();
  });
});

describe('visualization of any topic of the user (issue 15, 6)', () => {
  const original = globalThis.WebSocket;
  beforeEach(() => {
    sockets.length = 0;
    globalThis.WebSocket = NoSocket as unknown as typeof WebSocket;
  });
  afterEach(() => {
    globalThis.WebSocket = original;
  });

  it('streams a topic no inference outputs when it is in the namespace', async () => {
    inferences.splice(0, inferences.length);
    render(
      <MemoryRouter
        initialEntries={['/visualization?topic=alice.sensors']}
        future={{ v7_startTransition: true, v7_relativeSplatPath: true }}
      >
        <Visualization />
      </MemoryRouter>,
    );
    await waitFor(() => expect(sockets.some((u) => u.includes('/ws/predictions/?topic=alice.sensors'))).toBe(true));
    expect(screen.queryByTestId('stream-refused')).toBeNull();
  });

  it('refuses a topic outside the namespace without asking the server', async () => {
    inferences.splice(0, inferences.length);
    render(
      <MemoryRouter initialEntries={['/visualization?topic=bob.out']} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <Visualization />
      </MemoryRouter>,
    );
    expect((await screen.findByTestId('stream-refused')).textContent).toMatch(/not yours/);
    expect(sockets).toEqual([]);
  });

  it('shows records that are not predictions as they are', () => {
    expect(recordText({ values: { fields: { t: 1 } } })).toBe('{"fields":{"t":1}}');
    expect(recordText({ values: null, text: 'hello' })).toBe('hello');
    expect(recordText({ values: null, bytes: 3, hex: 'ff0001' })).toBe('3 bytes: ff0001');
    expect(recordText({ values: null, bytes: 100, hex: 'ff' })).toBe('100 bytes: ff…');
  });
});
