import { useCallback, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { api, listAll } from '../lib/api';
import type { Inference, TrainingResult } from '../lib/types';
import { useSocket } from '../lib/socket';
import { useKafkaAccess } from '../lib/kafkaAccess';
import { inferenceSnippet, snippetSecurity } from '../lib/snippets';
import ServingHistory from '../components/ServingHistory';
import CandidatePanel, { type Candidate } from '../components/CandidatePanel';
import { ActionButton, CopyBlock, Empty, ErrorAlert, LiveDot, Loading, StatusBadge, fmtNum, useInterval, useLoad } from '../components/ui';

const ACTIVE = new Set(['created', 'running']);

/** Set while a running inference is not serving: its replicas reach no Kafka broker. */
export interface Degraded {
  reason: 'cluster_unreachable' | string;
  since: string;
}
/** Fields of GET /inferences/<id>/ about delivery and health. */
type Served = Inference & { delivery?: 'at_least_once' | 'exactly_once'; degraded?: Degraded | null; candidate?: Candidate | null };

/** "cluster unreachable since 14:02:07" (the date too when it is not today). */
export function degradedText(degraded: Degraded, now = new Date()): string {
  const what = degraded.reason === 'cluster_unreachable' ? 'cluster unreachable' : degraded.reason.replace(/_/g, ' ');
  const since = new Date(degraded.since);
  if (Number.isNaN(since.getTime())) return what;
  const sameDay = since.toDateString() === now.toDateString();
  return `${what} since ${sameDay ? since.toLocaleTimeString() : since.toLocaleString()}`;
}

export function DegradedBadge({ degraded }: { degraded: Degraded }) {
  return (
    <span
      className="badge degraded"
      data-testid="degraded"
      title="The replicas cannot reach the Kafka cluster; they reconnect and catch up by themselves when it is back."
    >
      degraded · {degradedText(degraded)}
    </span>
  );
}

/** A workload that keeps crashing is failed by the reconciler with an error starting "crashing:". */
export function isCrashing(inf: Pick<Inference, 'status' | 'error'>): boolean {
  return inf.status === 'failed' && /^crashing:/.test(inf.error || '');
}

export interface VersionChoice {
  key: string;
  label: string;
  result: number;
  version: number;
}

/** The versions a running inference may swap to: every trained version of the served result's
 *  model but the one it serves now (an empty list: "No other version"). */
export function otherVersions(results: TrainingResult[], inf: Pick<Inference, 'serving_result' | 'model_version'>): VersionChoice[] {
  const model = results.find((x) => x.id === inf.serving_result)?.model;
  if (model == null) return [];
  return results
    .filter((r) => r.status === 'finished' && r.model === model && r.artifacts?.length)
    .flatMap((r) =>
      r.artifacts.map((a) => ({ key: `${r.id}:${a.version}`, label: `result #${r.id} v${a.version}`, result: r.id, version: a.version })),
    )
    .filter((v) => !(v.result === inf.serving_result && v.version === inf.model_version));
}

export function InferenceCard({
  initial,
  results,
  onGone,
  highlight,
}: {
  initial: Inference;
  results: TrainingResult[];
  onGone: () => void;
  highlight: boolean;
}) {
  const kafka = useKafkaAccess();
  const [inf, setInf] = useState<Served>(initial);
  const [replicas, setReplicas] = useState(String(initial.replicas));
  const [swapTo, setSwapTo] = useState('');
  const [showSend, setShowSend] = useState(highlight);
  const last = useRef(0);
  const pending = useRef<ReturnType<typeof setTimeout>>();
  const refresh = useCallback(() => {
    const run = async () => {
      last.current = Date.now();
      try {
        setInf(await api.get<Inference>(`/api/v1/inferences/${initial.id}/`));
      } catch {
        /* next event retries */
      }
    };
    clearTimeout(pending.current);
    const wait = 1000 - (Date.now() - last.current);
    if (wait <= 0) run();
    else pending.current = setTimeout(run, wait);
  }, [initial.id]);
  const active = ACTIVE.has(inf.status);
  const socket = useSocket(active ? `/ws/inferences/${inf.id}/` : null, (msg) => {
    if (msg.event === 'snapshot') setInf(msg.data as Inference);
    else refresh();
  });
  useInterval(refresh, 5000, active);

  const versions = otherVersions(results, inf);
  // Once stopped (or failed) no replica reports: no stale "2 / 2" or records/s.
  const l = active ? inf.live : undefined;
  const crashing = isCrashing(inf);
  return (
    <div className="card" data-testid={`inference-${inf.id}`} style={highlight ? { borderColor: 'var(--accent)' } : undefined}>
      <div className="page-head" style={{ marginBottom: 10 }}>
        <h2 style={{ margin: 0 }} data-testid="serving">
          #{inf.id} {inf.model_name}{' '}
          <span className="muted small">
            <Link to={`/results/${inf.serving_result}`}>result #{inf.serving_result}</Link> v{inf.model_version} · {inf.runtime}
            {inf.serving_result !== inf.result && <> · swapped from result #{inf.result}</>}
          </span>
        </h2>
        {crashing ? (
          <span className="badge failed" data-testid="crashing" title="The workload exits on every start: see the error and the log below.">
            failed · crashing
          </span>
        ) : inf.status === 'running' && inf.degraded ? (
          <DegradedBadge degraded={inf.degraded} />
        ) : (
          <>
            <StatusBadge status={inf.status} />
            {active && <LiveDot state={socket} />}
          </>
        )}
        <span className="spacer" />
        <Link className="btn small primary" to={`/visualization?inference=${inf.id}`}>
          Visualize
        </Link>
        {active ? (
          <ActionButton
            className="btn small danger"
            confirm="Stop this inference?"
            busyLabel="Stopping…"
            onClick={async () => setInf(await api.post<Inference>(`/api/v1/inferences/${inf.id}/stop/`))}
          >
            Stop
          </ActionButton>
        ) : (
          <ActionButton
            className="btn small danger"
            confirm={`Delete inference #${inf.id}?`}
            onClick={async () => {
              await api.del(`/api/v1/inferences/${inf.id}/`);
              onGone();
            }}
          >
            Delete
          </ActionButton>
        )}
      </div>
      {inf.status === 'failed' && inf.error && (
        <div className="alert error" data-testid="inference-error">
          <strong>{crashing ? 'Crashing: it exits on every start.' : 'Failed.'}</strong> <pre className="log">{inf.error}</pre>
        </div>
      )}
      <div className="small muted" style={{ marginBottom: 10 }}>
        <code>{inf.input_topic}</code> → <code>{inf.output_topic}</code>
        {inf.upper_topic && (
          <>
            {' '}
            · unsure (&lt; {inf.limit}) → <code>{inf.upper_topic}</code>
          </>
        )}{' '}
        · {inf.input_format}
        {inf.delivery === 'exactly_once' && (
          <>
            {' '}
            · exactly once (read the output with <code>read_committed</code>)
          </>
        )}
      </div>
      <div className="stats" data-testid="live-metrics">
        <div className="stat">
          <div className="k">Records in / s</div>
          <div className="v">{fmtNum(l?.records_in_per_s, 1)}</div>
        </div>
        <div className="stat">
          <div className="k">Out / s</div>
          <div className="v">{fmtNum(l?.records_out_per_s, 1)}</div>
        </div>
        <div className="stat">
          <div className="k">Latency p50 / p95 ms</div>
          <div className="v">
            {fmtNum(l?.latency_ms?.p50, 1)} / {fmtNum(l?.latency_ms?.p95, 1)}
          </div>
        </div>
        <div className="stat">
          <div className="k">Lag</div>
          <div className="v" title="Approximate on the embedded broker">
            {fmtNum(l?.lag, 0)}
          </div>
        </div>
        <div className="stat">
          <div className="k">Processed</div>
          <div className="v">{fmtNum(l?.records_out, 0)}</div>
        </div>
        <div className="stat">
          <div className="k">Errors</div>
          <div className="v">{fmtNum(l?.errors, 0)}</div>
        </div>
        <div className="stat">
          <div className="k">Replicas reporting</div>
          <div className="v" data-testid="replicas-reporting">
            {l?.replicas_reporting ?? 0} / {inf.replicas}
          </div>
        </div>
      </div>
      {active && (
        <div className="row" style={{ marginTop: 12, alignItems: 'flex-end' }}>
          <div className="actions">
            <label htmlFor={`rep-${inf.id}`} className="small">
              Replicas
            </label>
            <input
              id={`rep-${inf.id}`}
              type="number"
              min={1}
              max={64}
              value={replicas}
              onChange={(e) => setReplicas(e.target.value)}
              style={{ width: 80 }}
            />
            <ActionButton
              className="btn small"
              disabled={Number(replicas) === inf.replicas}
              onClick={async () => setInf(await api.post<Inference>(`/api/v1/inferences/${inf.id}/scale/`, { replicas: Number(replicas) }))}
            >
              Scale
            </ActionButton>
          </div>
          <div className="actions">
            <label htmlFor={`swap-${inf.id}`} className="small">
              Model version
            </label>
            <select id={`swap-${inf.id}`} value={swapTo} onChange={(e) => setSwapTo(e.target.value)} style={{ width: 200 }}>
              <option value="">{versions.length ? 'Pick a version…' : 'No other version'}</option>
              {versions.map((v) => (
                <option key={v.key} value={v.key}>
                  {v.label}
                </option>
              ))}
            </select>
            <ActionButton
              className="btn small"
              disabled={!swapTo}
              onClick={async () => {
                const v = versions.find((x) => x.key === swapTo)!;
                setInf(await api.post<Inference>(`/api/v1/inferences/${inf.id}/swap/`, { result: v.result, version: v.version }));
                setSwapTo('');
              }}
            >
              Swap
            </ActionButton>
          </div>
          <button type="button" className="btn small" onClick={() => setShowSend((s) => !s)}>
            {showSend ? 'Hide' : 'How to send records'}
          </button>
        </div>
      )}
      {active && <CandidatePanel inf={inf} choices={versions} onChange={setInf} />}
      {showSend && active && (
        <div style={{ marginTop: 12 }}>
          <CopyBlock
            text={inferenceSnippet({
              bootstrapServers: kafka.access?.bootstrap_servers || 'localhost:9092',
              inputTopic: inf.input_topic,
              outputTopic: inf.output_topic,
              inputFormat: inf.input_format,
              inputConfig: inf.input_config,
              groupPrefix: kafka.access?.group_prefix,
              security: snippetSecurity(kafka.access),
              exactlyOnce: inf.delivery === 'exactly_once',
            })}
          />
        </div>
      )}
      <ServingHistory inference={inf} active={active} />
    </div>
  );
}

export default function Inferences() {
  const [params] = useSearchParams();
  const created = Number(params.get('created') || 0);
  const list = useLoad((s) => listAll<Inference>('/api/v1/inferences/', s), []);
  const results = useLoad((s) => listAll<TrainingResult>('/api/v1/results/?status=finished', s), []);
  return (
    <>
      <div className="page-head">
        <h1>Inferences</h1>
        <span className="sub">Trained models serving a topic.</span>
        <span className="spacer" />
        <Link className="btn" to="/deployments">
          Deploy a trained model
        </Link>
      </div>
      <ErrorAlert error={list.error} />
      {list.loading && !list.data ? (
        <Loading what="inferences" />
      ) : list.data && !list.data.length ? (
        <Empty
          title="No inference running"
          actions={
            <Link className="btn primary" to="/deployments">
              Find a finished result
            </Link>
          }
        >
          Open a finished training result and press “Deploy for inference”.
        </Empty>
      ) : (
        list.data?.map((inf) => (
          <InferenceCard
            key={inf.id}
            initial={inf}
            results={results.data ?? []}
            highlight={inf.id === created}
            onGone={() => list.reload(true)}
          />
        ))
      )}
    </>
  );
}
