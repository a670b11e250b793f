import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen, waitFor } from '@testing-library/react';
import ControlErrors, { controlErrorsApi } from './ControlErrors';
import type { ControlError } from '../lib/types';

const refused: ControlError = {
  id: 1,
  error: "Topic 'bob.digits' is not yours: your topics start with 'alice.'.",
  control_topic: 'KAFKA_ML_CONTROL_TOPIC',
  control_partition: 0,
  control_offset: 41,
  created_at: '2026-12-07T02:00:00Z',
};

function answer(status: number, body: unknown) {
  return vi
    .spyOn(globalThis, 'fetch')
    .mockImplementation(async () => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }));
}

describe('refused control messages', () => {
  afterEach(() => vi.restoreAllMocks());

  it('lists each refusal with its reason and where it was read', async () => {
    const fetch = answer(200, { count: 1, next: null, previous: null, results: [refused] });
    render(<ControlErrors deploymentId={7} live={false} />);
    const box = await screen.findByTestId('control-errors');
    expect(box.textContent).toContain(refused.error);
    expect(box.textContent).toContain('KAFKA_ML_CONTROL_TOPIC partition 0, offset 41');
    expect(box.textContent).toMatch(/nothing trains/);
    expect(fetch.mock.calls[0][0]).toBe('/api/v1/deployments/7/control-errors/');
  });

  it('shows nothing when there are none', async () => {
    answer(200, []);
    const { container } = render(<ControlErrors deploymentId={7} live={false} />);
    await waitFor(() => expect(globalThis.fetch).toHaveBeenCalled());
    expect(container.textContent).toBe('');
  });

  it('an older server without the endpoint (404) shows nothing, no error', async () => {
    answer(404, { detail: 'Not found.' });
    expect(await controlErrorsApi.list(7)).toBeNull();
    const { container } = render(<ControlErrors deploymentId={7} live />);
    await waitFor(() => expect(globalThis.fetch).toHaveBeenCalledTimes(2));
    expect(container.textContent).toBe('');
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
