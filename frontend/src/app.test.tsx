import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import App from './App';
import PageBoundary from './components/PageBoundary';

vi.mock('./auth', () => ({
  useAuth: () => ({ user: { id: 1, username: 'ada', is_staff: true }, checking: false, logout: () => undefined }),
}));
// The lazy pages: stand-ins, so the test needs no server.
vi.mock('./pages/ModelList', () => ({ default: () => <h1>Models page</h1> }));
vi.mock('./pages/Runs', () => ({ default: () => <h1>Runs page</h1> }));

describe('code-split routes', () => {
  it('loads a page lazily behind the shell', async () => {
    render(
      <MemoryRouter initialEntries={['/models']}>
        <App />
      </MemoryRouter>,
    );
    // The shell is there at once; the page arrives with its chunk.
    expect(screen.getByTestId('username').textContent).toBe('ada');
    expect(await screen.findByRole('heading', { name: 'Models page' })).toBeTruthy();
  });

  it('another route loads its own page', async () => {
    render(
      <MemoryRouter initialEntries={['/runs']}>
        <App />
      </MemoryRouter>,
    );
    expect(await screen.findByRole('heading', { name: 'Runs page' })).toBeTruthy();
  });
});

describe('PageBoundary', () => {
  it('offers a reload when a page chunk fails to load', () => {
    const Broken = () => {
      throw new TypeError('Failed to fetch dynamically imported module: /assets/Runs-abc.js');
    };
    // React (console.error) and jsdom (an error event) report the throw; keep the output clean.
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const swallow = (e: ErrorEvent) => e.preventDefault();
    window.addEventListener('error', swallow);
    render(
      <PageBoundary>
        <Broken />
      </PageBoundary>,
    );
    window.removeEventListener('error', swallow);
    quiet.mockRestore();
    expect(screen.getByRole('alert').textContent).toMatch(/UI was probably updated/);
    expect(screen.getByRole('button', { name: 'Reload' })).toBeTruthy();
  });
});
