import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import ModelList from './ModelList';
import Deployments from './Deployments';
import Configurations from './Configurations';

function answer(body: unknown) {
  return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
}

const rows: Record<string, unknown[]> = {
  '/api/v1/models/': [
    {
      id: 1,
      name: 'digits',
      description: '',
      framework: 'tensorflow',
      distributed: false,
      upper_model: null,
      validation_status: 'valid',
      deletable: true,
      delete_blockers: [],
      updated_at: '',
    },
  ],
  '/api/v1/deployments/': [
    {
      id: 2,
      configuration: 1,
      configuration_name: 'c',
      results: [{ id: 3, model: 1, model_name: 'digits', status: 'finished' }],
      created_at: '',
    },
  ],
  '/api/v1/configurations/': [{ id: 1, name: 'c', description: '', models: [1], model_names: ['digits'], deletable: true, created_at: '' }],
};

afterEach(() => vi.unstubAllGlobals());

describe('list action cells stay table cells (row borders line up)', () => {
  it.each([
    ['models', ModelList, 'Edit'],
    ['deployments', Deployments, 'Delete'],
    ['configurations', Configurations, 'Deploy'],
  ])('%s', async (_name, Page, button) => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => answer(rows[Object.keys(rows).find((k) => url.startsWith(k)) ?? ''] ?? [])),
    );
    render(
      <MemoryRouter>
        <Page />
      </MemoryRouter>,
    );
    const btn = await screen.findByText(button, { selector: '.btn' });
    const wrapper = btn.closest('.actions')!;
    expect(wrapper.tagName).toBe('DIV');
    const cell = wrapper.parentElement!;
    expect(cell.tagName).toBe('TD');
    expect(cell.classList.contains('actions')).toBe(false);
    expect(cell.getAttribute('style')).toBeNull();
  });
});
