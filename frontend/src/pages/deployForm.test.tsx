import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { DeployFormView, compileSettingsApply, trainedModels } from './DeployForm';
import type { Configuration, MLModel } from '../lib/types';

const conf = (models: number[]) =>
  ({ id: 3, name: 'c', description: '', models, model_names: [], deletable: true, created_at: '' }) as Configuration;
const model = (id: number, extra: Partial<MLModel> & { summary?: Record<string, unknown> } = {}) =>
  ({ id, name: `m${id}`, framework: 'tensorflow', distributed: false, upper_model: null, summary: {}, ...extra }) as MLModel;

const compileFields = ['Optimizer', 'Learning rate', 'Loss', 'Metrics'];

async function submitted(configuration: Configuration, models: MLModel[]) {
  const onSubmit = vi.fn().mockResolvedValue(undefined);
  render(<DeployFormView configuration={configuration} models={models} datasources={[]} onSubmit={onSubmit} />);
  fireEvent.click(screen.getByRole('button', { name: /Deploy/ }));
  await waitFor(() => expect(onSubmit).toHaveBeenCalled());
  return onSubmit.mock.calls[0][0] as Record<string, unknown>;
}

describe('deploy form shows only the settings training uses', () => {
  it('a Keras model its code does not compile: optimizer, learning rate, loss and metrics', async () => {
    const body = await submitted(conf([1]), [model(1, { summary: { compiled: false } })]);
    for (const label of compileFields) expect(screen.getByLabelText(label)).toBeTruthy();
    expect(body).toMatchObject({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: 'accuracy', learning_rate: 0.001 });
  });

  it('a PyTorch model: none of them, and none sent', async () => {
    const body = await submitted(conf([1]), [model(1, { framework: 'pytorch', summary: { compiled: true, loss: 'CrossEntropyLoss' } })]);
    for (const label of compileFields) expect(screen.queryByLabelText(label)).toBeNull();
    expect(screen.getByTestId('compile-from-code').textContent).toMatch(/loss_fn\(\)/);
    for (const key of ['optimizer', 'learning_rate', 'loss', 'metrics']) expect(body).not.toHaveProperty(key);
  });

  it('a Keras model that compiles itself: none of them; the confusion matrix follows its own loss', async () => {
    render(
      <DeployFormView
        configuration={conf([1])}
        models={[model(1, { summary: { compiled: true, loss: 'mse' } })]}
        datasources={[]}
        onSubmit={vi.fn()}
      />,
    );
    for (const label of compileFields) expect(screen.queryByLabelText(label)).toBeNull();
    expect(screen.getByTestId('compile-from-code').textContent).toMatch(/model\.compile/);
    expect(screen.queryByLabelText(/confusion matrix/)).toBeNull();
  });

  it('a Keras chain always uses them, even when its sub-models compile themselves', () => {
    const cloud = model(2, { distributed: true, summary: { compiled: true } });
    const edge = model(1, { distributed: true, upper_model: 2, summary: { compiled: true } });
    const trained = trainedModels(conf([1]), [edge, cloud, model(9)]);
    expect(trained.map((m) => m.id)).toEqual([1, 2]);
    expect(compileSettingsApply(trained)).toBe(true);
    expect(compileSettingsApply([model(1, { summary: { compiled: true } })])).toBe(false);
    expect(compileSettingsApply([model(1)])).toBe(true); // unknown: the API uses them
  });
});
