import { Component, ReactNode } from 'react';

interface Props {
  children: ReactNode;
}

/** Catches a page that failed to load or render: a route's chunk can 404 when the UI was updated
 *  while this tab was open (its file names change with every build), so offer a reload instead of
 *  a blank main area. Keyed by path in App, so navigating elsewhere clears it. */
export default class PageBoundary extends Component<Props, { failed: Error | null }> {
  state = { failed: null as Error | null };

  static getDerivedStateFromError(failed: Error) {
    return { failed };
  }

  render() {
    const { failed } = this.state;
    if (!failed) return this.props.children;
    const stale = /dynamically imported module|Importing a module script failed|error loading dynamically/i.test(failed.message);
    return (
      <div className="card alert error" role="alert">
        <p>
          {stale
            ? 'This page could not be loaded: the UI was probably updated since this tab opened.'
            : `This page failed: ${failed.message}`}
        </p>
        <button type="button" className="btn" onClick={() => window.location.reload()}>
          Reload
        </button>
      </div>
    );
  }
}
