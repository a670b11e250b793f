import { api, ApiError } from '../lib/api';
import { rows } from '../lib/accounts';
import type { ControlError } from '../lib/types';
import { ErrorAlert, fmtDate, useInterval, useLoad } from './ui';

export const controlErrorsApi = {
  /** null when the server has no such endpoint (an older backend answers 404). */
  list: async (deploymentId: number, signal?: AbortSignal): Promise<ControlError[] | null> => {
    try {
      return rows(
        await api.get<ControlError[] | { results: ControlError[] }>(`/api/v1/deployments/${deploymentId}/control-errors/`, signal),
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  },
};

function where(e: ControlError): string {
  const at =
    e.control_partition != null ? ` partition ${e.control_partition}${e.control_offset != null ? `, offset ${e.control_offset}` : ''}` : '';
  return `${e.control_topic}${at}`;
}

/** The refused control messages, newest first, each with the platform's reason. */
export function ControlErrorsList({ errors }: { errors: ControlError[] }) {
  if (!errors.length) return null;
  const newestFirst = [...errors].sort((a, b) => b.created_at.localeCompare(a.created_at));
  return (
    <div className="alert error" role="alert" data-testid="control-errors">
      <strong>
        {errors.length === 1
          ? 'A control message for this deployment was refused'
          : `${errors.length} control messages for this deployment were refused`}
      </strong>{' '}
      — nothing trains on a refused stream. Send again to a topic starting with your prefix.
      <ul className="small control-errors">
        {newestFirst.map((e) => (
          <li key={e.id}>
            <span className="muted" title={fmtDate(e.created_at)}>
              {fmtDate(e.created_at)}
            </span>
            : {e.error}
            <div className="muted mono">on {where(e)}</div>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Loads (and, while `live`, re-checks) the refused control messages of a deployment. */
export default function ControlErrors({
  deploymentId,
  live,
  client = controlErrorsApi,
}: {
  deploymentId: number;
  live: boolean;
  client?: typeof controlErrorsApi;
}) {
  const loaded = useLoad((s) => client.list(deploymentId, s), [deploymentId]);
  const missing = loaded.data === null && !loaded.loading && !loaded.error;
  useInterval(() => loaded.reload(true), 5000, live && !missing);
  if (loaded.error) return <ErrorAlert error={loaded.error} title="Refused control messages could not be loaded." />;
  return <ControlErrorsList errors={loaded.data ?? []} />;
}
