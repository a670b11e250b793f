import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import type { Datasource, TrainingResult } from '../lib/types';
import type { ChainPlan } from './ChainInferenceForm';

const get = vi.fn();
vi.mock('../lib/api', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/api')>()),
  api: { get: (...args: unknown[]) => get(...args) },
}));

const { ChainInferenceForm, DeployChainLink, chainBody, chainDefaults } = await import('./ChainInferenceForm');
const { InferenceFormView } = await import('./InferenceForm');

const plan: ChainPlan = {
  leader: 5,
  members: [
    { result: 5, model: 1, model_name: 'Edge', status: 'finished', upper: true },
    {
      result: 6,
      model: 2,
      model_name: 'Cloud',
      status: 'finished',
      upper: false,
      input_format: 'RAW',
      input_config: { data_type: 'float32', data_reshape: '16' },
    },
  ],
};
const edge = { id: 5, model_name: 'Edge', framework: 'tensorflow' } as TrainingResult;
const cloud = { id: 6, model_name: 'Cloud', framework: 'tensorflow' } as TrainingResult;
const source = { id: 2, input_format: 'RAW', input_config: { data_type: 'float32', data_reshape: '8 8' } } as unknown as Datasource;
const router = (ui: React.ReactNode) => <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>{ui}</MemoryRouter>;

describe('deploy a chain for inference as one action (issue 13, 4)', () => {
  it('sends the edge input, the output topic and one limit per sub-model that sends records on', async () => {
    const onSubmit = vi.fn().mockResolvedValue(undefined);
    render(router(<ChainInferenceForm plan={plan} leader={edge} source={source} prefix="alice." onSubmit={onSubmit} />));
    expect(screen.getByTestId('chain-wiring').textContent).toMatch(/Edge sends the records it is unsure about to Cloud/);
    expect(screen.getByTestId('chain-wiring').textContent).toMatch(/Cloud: 16 values/);
    fireEvent.change(screen.getByLabelText('Limit of Edge'), { target: { value: '0.65' } });
    fireEvent.click(screen.getByRole('button', { name: /Deploy chain/ }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    const body = onSubmit.mock.calls[0][0];
    expect(body).toMatchObject({
      result: 5,
      input_format: 'RAW',
      input_config: { data_type: 'float32', data_reshape: '8 8' },
      limits: [0.65],
    });
    expect(body.input_topic).toMatch(/^alice\./);
    expect(body.output_topic).toMatch(/^alice\./);
    expect(body).not.toHaveProperty('upper_topic'); // the server makes and wires it
  });

  it('defaults topics in the namespace and a limit per sender', () => {
    const d = chainDefaults(plan, edge, source, 'alice.');
    expect(d.limits).toEqual(['0.8']);
    expect(chainBody(plan, d).input_topic).toBe('alice.edge-5-chain-in');
  });

  it('prefills the cloud model with the edge output, not the training data reshape', () => {
    render(
      router(
        <InferenceFormView
          result={cloud}
          source={source}
          chain={false}
          access={{ topic_prefix: 'alice.' }}
          prefixKnown
          onSubmit={vi.fn()}
          reads={{ input_format: 'RAW', input_config: plan.members[1].input_config!, from: 'Edge' }}
          chainLink="/results/5/inference?chain=1"
        />,
      ),
    );
    const config = (screen.getByLabelText('Input configuration (JSON)') as HTMLTextAreaElement).value;
    expect(JSON.parse(config)).toEqual({ data_type: 'float32', data_reshape: '16' });
    expect(screen.getByTestId('input-source').textContent).toMatch(/reads the output of Edge/);
    expect(screen.getByRole('link', { name: /Deploy the whole chain/ }).getAttribute('href')).toBe('/results/5/inference?chain=1');
  });

  it('offers "Deploy chain for inference" only on a chain\'s result', async () => {
    get.mockResolvedValueOnce(plan);
    const { unmount } = render(router(<DeployChainLink resultId={6} />));
    const link = await screen.findByTestId('deploy-chain');
    expect(link.getAttribute('href')).toBe('/results/5/inference?chain=1');
    unmount();
    get.mockResolvedValueOnce({ leader: null, members: [] });
    render(router(<DeployChainLink resultId={9} />));
    await waitFor(() => expect(get).toHaveBeenCalledTimes(2));
    expect(screen.queryByTestId('deploy-chain')).toBeNull();
  });
});
