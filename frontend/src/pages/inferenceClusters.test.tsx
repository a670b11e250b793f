import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { bootstrapProblem, inferenceDefaults, inferenceProblems, InferenceFormView } from './InferenceForm';
import type { TrainingResult } from '../lib/types';

const result = { id: 9, model_name: 'Digits Net', framework: 'tensorflow' } as TrainingResult;

describe('inference on other Kafka clusters (issue 15, 5)', () => {
  it('checks host:port lists', () => {
    expect(bootstrapProblem('')).toBeNull();
    expect(bootstrapProblem('edge-kafka:9092, edge-2:9093')).toBeNull();
    expect(bootstrapProblem('[::1]:9092')).toBeNull();
    for (const bad of ['edge-kafka', 'a:0', 'a:70000', 'a b:1', 'a:9092,,b:9092']) expect(bootstrapProblem(bad)).toMatch(/not host:port/);
  });

  it('refuses exactly once across clusters before the server does', () => {
    const d = inferenceDefaults(result, null, true, 'alice.');
    const one = { ...d, delivery: 'exactly_once', input_bootstrap_servers: 'a:1,b:2', output_bootstrap_servers: 'b:2, a:1' };
    expect(inferenceProblems(one, true, 'alice.').delivery).toBeUndefined();
    expect(inferenceProblems({ ...one, output_bootstrap_servers: '' }, true, 'alice.').delivery).toMatch(/cannot span clusters/);
    expect(inferenceProblems({ ...one, upper_bootstrap_servers: 'c:3' }, true, 'alice.').delivery).toMatch(/cannot span clusters/);
    expect(inferenceProblems({ ...d, input_bootstrap_servers: 'edge:9092' }, true, 'alice.').delivery).toBeUndefined();
    expect(inferenceProblems({ ...d, upper_bootstrap_servers: 'c:3' }, false, 'alice.').upper_bootstrap_servers).toMatch(/upper topic/);
    expect(inferenceProblems({ ...d, gpus: '1.5' }, false, 'alice.').gpus).toMatch(/whole number/);
  });

  it('sends the clusters, the GPUs and the Telegraf format when given', async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    render(
      <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <InferenceFormView
          result={result}
          source={null}
          chain={false}
          access={{ topic_prefix: 'alice.' }}
          prefixKnown
          onSubmit={onSubmit}
        />
      </MemoryRouter>,
    );
    fireEvent.click(screen.getByRole('button', { name: /Deploy inference/ }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    const plain = onSubmit.mock.calls[0][0];
    expect(plain.input_bootstrap_servers).toBeUndefined();
    expect(plain.gpus).toBeUndefined();

    fireEvent.change(screen.getByLabelText('Input format'), { target: { value: 'TELEGRAF_STR_JSON' } });
    fireEvent.change(screen.getByLabelText('Input cluster'), { target: { value: ' edge-kafka:9092 ' } });
    fireEvent.change(screen.getByLabelText('Output cluster'), { target: { value: 'cloud-kafka:9092' } });
    fireEvent.change(screen.getByLabelText('GPUs per replica'), { target: { value: '1' } });
    fireEvent.click(screen.getByRole('button', { name: /Deploy inference/ }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(2));
    expect(onSubmit.mock.calls[1][0]).toMatchObject({
      input_format: 'TELEGRAF_STR_JSON',
      input_bootstrap_servers: 'edge-kafka:9092',
      output_bootstrap_servers: 'cloud-kafka:9092',
      gpus: 1,
    });
  });
});
