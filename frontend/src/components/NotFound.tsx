import { Link } from 'react-router-dom';
import { ApiError } from '../lib/api';
import { ErrorAlert } from './ui';

/** A page whose object could not be loaded: a 404 reads as "not found" with a way back;
 *  any other error is shown as it is, with the same way back. */
export default function NotFound({ error, what, back, backLabel }: { error: unknown; what: string; back: string; backLabel: string }) {
  const missing = error instanceof ApiError && error.status === 404;
  return (
    <div className="card" data-testid="not-found">
      {missing ? (
        <>
          <h1>{what} was not found</h1>
          <p className="muted">It may have been deleted, or the address is wrong.</p>
        </>
      ) : (
        <ErrorAlert error={error} />
      )}
      <Link className="btn" to={back}>
        {backLabel}
      </Link>
    </div>
  );
}
