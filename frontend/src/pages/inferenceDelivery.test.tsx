import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { InferenceFormView } from './InferenceForm';
import { DegradedBadge, degradedText } from './Inferences';
import { ApiError } from '../lib/api';
import { inferenceSnippet } from '../lib/snippets';
import type { TrainingResult } from '../lib/types';

const result = { id: 9, model_name: 'Digits Net', framework: 'tensorflow' } as TrainingResult;
const renderForm = (onSubmit: (body: Record<string, unknown>) => Promise<void>) =>
  render(
    <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <InferenceFormView result={result} source={null} chain={false} access={{ topic_prefix: 'alice.' }} prefixKnown onSubmit={onSubmit} />
    </MemoryRouter>,
  );

describe('inference delivery', () => {
  it('sends at_least_once by default and exactly_once when chosen', async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderForm(onSubmit);
    const select = screen.getByLabelText('Delivery') as HTMLSelectElement;
    expect(select.value).toBe('at_least_once');
    fireEvent.click(screen.getByRole('button', { name: /Deploy inference/ }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(onSubmit.mock.calls[0][0]).toMatchObject({ delivery: 'at_least_once' });

    fireEvent.change(select, { target: { value: 'exactly_once' } });
    expect(screen.getByText(/read_committed/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: /Deploy inference/ }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(2));
    expect(onSubmit.mock.calls[1][0]).toMatchObject({ delivery: 'exactly_once' });
  });

  it("shows the server's refusal (embedded broker) on the delivery field", async () => {
    const reason = 'Exactly-once delivery needs Kafka transactions, which the embedded broker cannot isolate.';
    const onSubmit = vi.fn().mockRejectedValue(new ApiError(400, { detail: reason, errors: { delivery: [reason] } }));
    renderForm(onSubmit);
    fireEvent.change(screen.getByLabelText('Delivery'), { target: { value: 'exactly_once' } });
    fireEvent.click(screen.getByRole('button', { name: /Deploy inference/ }));
    const message = await screen.findByText(reason);
    expect(message.closest('.field')?.querySelector('select')?.id).toBe('i-delivery');
  });
});

describe('degraded inference', () => {
  it('says the cluster is unreachable and since when', () => {
    const now = new Date('2026-03-04T10:00:00');
    const since = new Date('2026-03-04T09:58:07');
    expect(degradedText({ reason: 'cluster_unreachable', since: since.toISOString() }, now)).toBe(
      `cluster unreachable since ${since.toLocaleTimeString()}`,
    );
    const earlier = new Date('2026-03-01T09:58:07');
    expect(degradedText({ reason: 'cluster_unreachable', since: earlier.toISOString() }, now)).toContain(earlier.toLocaleString());
  });

  it('renders a degraded badge instead of running', () => {
    render(<DegradedBadge degraded={{ reason: 'cluster_unreachable', since: new Date().toISOString() }} />);
    expect(screen.getByTestId('degraded').textContent).toMatch(/^degraded · cluster unreachable since /);
  });
});

describe('exactly-once reading snippet', () => {
  it('reads with read_committed only for an exactly-once inference', () => {
    const base = {
      bootstrapServers: 'k:9092',
      inputTopic: 'alice.m-in',
      outputTopic: 'alice.m-out',
      inputFormat: 'RAW',
      inputConfig: {},
      groupPrefix: 'alice.',
    };
    expect(inferenceSnippet(base)).not.toContain('isolation.level');
    const eo = inferenceSnippet({ ...base, exactlyOnce: true });
    expect(eo).toContain('"isolation.level": "read_committed",');
    expect(eo).toContain('"topic.metadata.refresh.interval.ms": 5000})');
  });
});
