import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { DeployFormView, localProblems, DEFAULT_DEPLOY, deployPayload } from './DeployForm';
import { InferenceFormView, inferenceApiErrors, inferenceProblems, inferenceDefaults } from './InferenceForm';
import { MemoryRouter } from 'react-router-dom';
import { ClassificationView } from './Visualization';
import { ApiError } from '../lib/api';
import { addPredictions, defaultConfig, emptyState } from '../lib/viz';
import type { Configuration, MLModel, TrainingResult } from '../lib/types';

const conf = { id: 3, name: 'c', description: '', models: [1], model_names: ['m'], deletable: true, created_at: '' } as Configuration;
const model = { id: 1, name: 'm', framework: 'tensorflow', distributed: false, upper_model: null } as MLModel;

describe('deploy form', () => {
  it('sends what the user typed', async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    render(<DeployFormView configuration={conf} models={[model]} datasources={[]} onSubmit={onSubmit} />);
    fireEvent.change(screen.getByLabelText('Batch size'), { target: { value: '64' } });
    fireEvent.change(screen.getByLabelText('Fit arguments'), { target: { value: 'epochs=3' } });
    fireEvent.click(screen.getByRole('button', { name: /Deploy/ }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalled());
    const body = onSubmit.mock.calls[0][0];
    expect(body).toMatchObject({ configuration: 3, batch_size: 64, training_kwargs: 'epochs=3', incremental: false, datasource: null });
    expect(body).not.toHaveProperty('window_size');
  });

  it('shows incremental settings only when incremental is on', () => {
    render(<DeployFormView configuration={conf} models={[model]} datasources={[]} onSubmit={vi.fn()} />);
    expect(screen.queryByLabelText('Window size')).toBeNull();
    fireEvent.click(screen.getByLabelText(/Incremental training/));
    expect(screen.getByLabelText('Window size')).toBeTruthy();
  });

  it('hides the confusion matrix for a regression loss', () => {
    render(<DeployFormView configuration={conf} models={[model]} datasources={[]} onSubmit={vi.fn()} />);
    expect(screen.getByLabelText(/confusion matrix/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Loss'), { target: { value: 'mse' } });
    expect(screen.queryByLabelText(/confusion matrix/)).toBeNull();
  });

  it('blocks bad input locally and shows the message next to the field', async () => {
    const onSubmit = vi.fn();
    render(<DeployFormView configuration={conf} models={[model]} datasources={[]} onSubmit={onSubmit} />);
    fireEvent.change(screen.getByLabelText('Batch size'), { target: { value: '0' } });
    fireEvent.click(screen.getByRole('button', { name: /Deploy/ }));
    expect(await screen.findByText(/Batch size must be a whole number/)).toBeTruthy();
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it('shows API field errors next to their fields', async () => {
    const onSubmit = vi
      .fn()
      .mockRejectedValue(
        new ApiError(400, { detail: 'Invalid training_kwargs', errors: { training_kwargs: ['unknown argument: epoch'] } }),
      );
    render(<DeployFormView configuration={conf} models={[model]} datasources={[]} onSubmit={onSubmit} />);
    fireEvent.click(screen.getByRole('button', { name: /Deploy/ }));
    expect(await screen.findByText('unknown argument: epoch')).toBeTruthy();
    expect(screen.getByText(/Some fields need attention/)).toBeTruthy();
  });

  it('validates numbers and kwargs', () => {
    expect(localProblems(DEFAULT_DEPLOY)).toEqual({});
    expect(Object.keys(localProblems({ ...DEFAULT_DEPLOY, learning_rate: 'x', training_kwargs: 'epochs' }))).toEqual([
      'learning_rate',
      'training_kwargs',
    ]);
    expect(deployPayload(1, { ...DEFAULT_DEPLOY, incremental: true, window_size: '10' }).window_size).toBe(10);
  });
});

describe('inference form', () => {
  const result = { id: 9, model_name: 'Digits Net', framework: 'tensorflow' } as TrainingResult;
  it('prefills from the datasource', () => {
    const d = inferenceDefaults(result, { input_format: 'RAW', input_config: { data_type: 'float32' } } as never, false);
    expect(d.input_format).toBe('RAW');
    expect(JSON.parse(d.input_config)).toEqual({ data_type: 'float32' });
    expect(d.input_topic).toBe('kafkaml-digits-net-9-in');
    expect(inferenceProblems(d, false)).toEqual({});
  });
  it('asks a chain sub-model for upper topic and limit', () => {
    const d = { ...inferenceDefaults(result, null, false), limit: '2' };
    expect(Object.keys(inferenceProblems(d, true)).sort()).toEqual(['limit', 'upper_topic']);
  });
});

describe("inference form in the user's namespace", () => {
  const result = { id: 9, model_name: 'Digits Net', framework: 'tensorflow' } as TrainingResult;
  const renderForm = (onSubmit: (body: Record<string, unknown>) => Promise<void>, prefixKnown = true) =>
    render(
      <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <InferenceFormView
          result={result}
          source={null}
          chain={false}
          access={{ topic_prefix: 'alice.' }}
          prefixKnown={prefixKnown}
          onSubmit={onSubmit}
        />
      </MemoryRouter>,
    );

  it('prefills topics inside the prefix', async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    renderForm(onSubmit);
    expect((screen.getByLabelText('Input topic') as HTMLInputElement).value).toBe('alice.digits-net-9-in');
    expect((screen.getByLabelText('Output topic') as HTMLInputElement).placeholder).toBe('e.g. alice.my-model-out');
    fireEvent.click(screen.getByRole('button', { name: /Deploy inference/ }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalled());
    expect(onSubmit.mock.calls[0][0]).toMatchObject({ input_topic: 'alice.digits-net-9-in', output_topic: 'alice.digits-net-9-out' });
  });

  it('flags a topic outside the prefix before sending, when the server told the prefix', async () => {
    const onSubmit = vi.fn();
    renderForm(onSubmit);
    fireEvent.change(screen.getByLabelText('Input topic'), { target: { value: 'bob.digits' } });
    fireEvent.click(screen.getByRole('button', { name: /Deploy inference/ }));
    expect(await screen.findByText(/Your topics start with “alice\.”/)).toBeTruthy();
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it("shows the server's 409 reason on the topic field", async () => {
    const reason = "The topic 'bob.digits' is not yours: your topics start with 'alice.'.";
    const onSubmit = vi.fn().mockRejectedValue(new ApiError(409, { detail: reason, errors: { input_topic: [reason] } }));
    renderForm(onSubmit, false);
    fireEvent.change(screen.getByLabelText('Input topic'), { target: { value: 'bob.digits' } });
    fireEvent.click(screen.getByRole('button', { name: /Deploy inference/ }));
    const message = await screen.findByText(reason);
    expect(message.closest('.field')?.querySelector('input')?.id).toBe('i-in');
  });

  it('puts a bare 409 on the field holding the topic it names, else above the form', () => {
    const d = { ...inferenceDefaults(result, null, false, 'alice.'), input_topic: 'alice.m', output_topic: 'alice.m-out' };
    const bare = new ApiError(409, { detail: "Topic 'alice.m-out' belongs to another inference." });
    expect(inferenceApiErrors(bare, d)).toEqual({ fields: { output_topic: [bare.detail] }, general: null });
    const other = new ApiError(409, { detail: 'Too many inferences.' });
    expect(inferenceApiErrors(other, d)).toEqual({ fields: {}, general: 'Too many inferences.' });
    const stray = new ApiError(409, { detail: 'Refused.', errors: { topic: ['Not yours.'] } });
    expect(inferenceApiErrors(stray, d).general).toContain('Not yours.');
  });
});

describe('classification view', () => {
  it('shows the current class and counts', () => {
    const config = {
      ...defaultConfig(3),
      labels: [
        { id: 0, label: 'cat', color: '#f00' },
        { id: 1, label: 'dog', color: '#0f0' },
      ],
    };
    const state = addPredictions(emptyState(), [{ values: [0.1, 0.9] }, { values: [0.8, 0.2] }], config);
    render(<ClassificationView state={state} config={config} />);
    expect(screen.getByTestId('current-class').textContent).toContain('cat');
    expect(screen.getByTestId('class-counts').textContent).toContain('dog');
  });
});

describe('deploy form: issue 15 modes', () => {
  it('refuses a millisecond-looking stream timeout and sends the modes only when set', () => {
    const incremental = { ...DEFAULT_DEPLOY, incremental: true };
    expect(localProblems({ ...incremental, stream_timeout: '60000' }).stream_timeout).toBe(
      'Stream timeout is in seconds; 60000 looks like milliseconds.',
    );
    expect(localProblems({ ...incremental, stream_timeout: '3600' })).toEqual({});
    expect(deployPayload(1, incremental)).not.toHaveProperty('incremental_mode');
    const body = deployPayload(1, { ...incremental, incremental_mode: 'time_limited', change: 'up' });
    expect([body.incremental_mode, body.change]).toEqual(['time_limited', 'up']);
  });

  it('sends pseudo-labelling rounds with their confidence threshold', () => {
    expect(deployPayload(1, DEFAULT_DEPLOY)).not.toHaveProperty('unsupervised_rounds');
    const body = deployPayload(1, { ...DEFAULT_DEPLOY, unsupervised_rounds: '3', confidence_threshold: '0.8' });
    expect([body.unsupervised_rounds, body.confidence_threshold]).toEqual([3, 0.8]);
    expect(Object.keys(localProblems({ ...DEFAULT_DEPLOY, unsupervised_rounds: '3', confidence_threshold: '2' }))).toEqual([
      'confidence_threshold',
    ]);
  });
});
