import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';
import ModelEdit from './ModelEdit';

// CodeMirror measures layout jsdom lacks; the editor itself is not under test here.
vi.mock('../components/CodeEditor', () => ({ default: () => null }));

function answer(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

const stored = (id: number, name: string) => ({
  id,
  name,
  description: '',
  imports: 'import tensorflow as tf',
  code: 'model = 1',
  framework: 'tensorflow',
  distributed: false,
  upper_model: null,
  validation_status: 'valid',
  summary: {},
  input_shape: [null, 64],
  output_shape: [null, 10],
  configurations: [],
  deletable: true,
  delete_blockers: [],
  created_at: '',
  updated_at: '',
});

function Where() {
  return <span data-testid="where">{useLocation().pathname}</span>;
}

afterEach(() => vi.unstubAllGlobals());

function serve(saved: (body: Record<string, unknown>) => unknown) {
  const calls: { url: string; method: string; body?: Record<string, unknown> }[] = [];
  document.cookie = 'csrftoken=abc';
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const method = (init.method ?? 'GET').toUpperCase();
      const body = init.body ? JSON.parse(String(init.body)) : undefined;
      calls.push({ url, method, body });
      if (method === 'PUT') return answer(405, { detail: 'Method "PUT" not allowed.' });
      if (method === 'PATCH') return answer(200, saved(body));
      if (url.includes('/templates/')) return answer(200, []);
      if (url.startsWith('/api/v1/models/?')) return answer(200, []);
      const m = /\/api\/v1\/models\/(\d+)\/$/.exec(url);
      if (m) return answer(200, stored(Number(m[1]), 'digits'));
      return answer(404, { detail: 'Not found' });
    }),
  );
  return calls;
}

function renderAt(path: string) {
  render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route
          path="/models/:id"
          element={
            <>
              <ModelEdit />
              <Where />
            </>
          }
        />
      </Routes>
    </MemoryRouter>,
  );
}

describe('editing a model', () => {
  it('saves with PATCH (the API answers 405 to PUT) and shows the valid summary', async () => {
    const calls = serve((body) => ({ ...stored(5, String(body.name)) }));
    renderAt('/models/5');
    const name = (await screen.findByLabelText('Name')) as HTMLInputElement;
    await waitFor(() => expect(name.value).toBe('digits'));
    fireEvent.change(name, { target: { value: 'digits v2' } });
    fireEvent.click(screen.getByRole('button', { name: /Validate and save/ }));
    expect(await screen.findByTestId('validation-ok')).toBeTruthy();
    const save = calls.find((c) => c.method !== 'GET');
    expect(save).toMatchObject({ url: '/api/v1/models/5/', method: 'PATCH' });
    expect(save?.body).toMatchObject({ name: 'digits v2', framework: 'tensorflow' });
    expect(screen.queryByText(/not allowed/)).toBeNull();
    expect(screen.getByTestId('where').textContent).toBe('/models/5');
  });

  it('follows the server to a new version when the edit is saved under a new id', async () => {
    serve(() => stored(6, 'digits'));
    renderAt('/models/5');
    await screen.findByDisplayValue('digits');
    fireEvent.click(screen.getByRole('button', { name: /Validate and save/ }));
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/models/6'));
  });
});
