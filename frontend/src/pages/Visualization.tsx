import { useMemo, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { api, listAll } from '../lib/api';
import type { Inference, TrainingResult } from '../lib/types';
import { useSocketStatus, type SocketStatus } from '../lib/socket';
import { useKafkaAccess } from '../lib/kafkaAccess';
import { useLatest } from '../lib/useLatest';
import {
  addPredictions,
  classCounts,
  currentClass,
  emptyState,
  labelFor,
  parseConfig,
  regressionSeries,
  colorFor,
  OutputKind,
  Prediction,
  VizConfig,
  VizState,
} from '../lib/viz';
import LineChart from '../components/LineChart';
import { Empty, ErrorAlert, Field, LiveDot, Loading, useInterval, useLoad } from '../components/ui';

const EXAMPLE = `{
  "type": "classification",
  "labels": [{"id": 0, "label": "zero", "color": "#2563eb"}],
  "average_window": 200,
  "average_updated": false
}`;

export function ClassificationView({ state, config }: { state: VizState; config: VizConfig }) {
  const cur = currentClass(state, config);
  const counts = classCounts(state, config);
  const max = Math.max(1, ...counts.map((c) => c.count));
  const history = state.recent.slice(-80);
  const label = cur ? labelFor(config, cur.cls) : null;
  return (
    <div className="grid two" style={{ alignItems: 'start' }}>
      <div className="card">
        <h3>
          {config.average_updated ? `Current class (average of the last ${state.recent.length})` : 'Current class (latest prediction)'}
        </h3>
        {cur && label ? (
          <div className="current-class" data-testid="current-class">
            <span className="swatch" style={{ background: label.color }} />
            <div>
              <div className="name">{label.label}</div>
              <div className="muted">confidence {(cur.confidence * 100).toFixed(1)}%</div>
            </div>
          </div>
        ) : (
          <p className="muted">Waiting for predictions…</p>
        )}
        <h3 style={{ marginTop: 18 }}>Recent history</h3>
        <div className="history" aria-label="Recent predictions" data-testid="history">
          {history.map((p, i) => {
            const l = labelFor(config, p.cls);
            return (
              <span key={i} style={{ background: l.color }} title={`${l.label} (${(p.confidence * 100).toFixed(0)}%)`}>
                {l.label.length <= 2 ? l.label : ''}
              </span>
            );
          })}
        </div>
      </div>
      <div className="card">
        <h3>
          Per class over the last {state.recent.length} (window {config.average_window})
        </h3>
        <div className="bars" data-testid="class-counts">
          {counts.map((c) => (
            <div className="bar" key={c.id}>
              <span title={`class id ${c.id}`}>{c.label}</span>
              <div className="track">
                <div className="fill" style={{ width: `${(100 * c.count) / max}%`, background: c.color }} />
              </div>
              <span className="n">
                {c.count} · {(c.share * 100).toFixed(0)}%
              </span>
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}

export function RegressionView({ state, config }: { state: VizState; config: VizConfig }) {
  const { x, series } = useMemo(() => regressionSeries(state), [state]);
  if (!x.length) return <div className="card muted">Waiting for predictions…</div>;
  return (
    <div className="card" data-testid="regression-chart">
      <h3>Outputs over the last {x.length} predictions</h3>
      <LineChart
        xLabel="prediction"
        x={x}
        series={series.map((values, i) => {
          const l = config.labels.find((lab) => lab.id === i);
          return { label: l?.label ?? `output ${i}`, values, color: l?.color ?? colorFor(i) };
        })}
      />
      <p className="small muted">
        Latest:{' '}
        {series
          .map((s, i) => `${config.labels.find((l) => l.id === i)?.label ?? `output ${i}`} = ${s[s.length - 1]?.toFixed(4)}`)
          .join(' · ')}
      </p>
    </div>
  );
}

/** Why the page will not stream this selection, known before asking the server: the list holds
 *  only the user's own inferences, and a typed topic must be in the user's namespace (their
 *  topics start with ``prefix``; any of them can be watched, not only inference outputs). */
export function selectionRefusal(
  own: Pick<Inference, 'id' | 'output_topic'>[] | null,
  inferenceId: string,
  topic: string,
  prefix?: string | null,
): string | null {
  if (inferenceId && own && !own.some((i) => String(i.id) === inferenceId))
    return `Inference #${inferenceId} is not one of yours: you can only watch your own inferences.`;
  if (!inferenceId && topic && prefix && !topic.startsWith(prefix)) return `“${topic}” is not yours: your topics start with “${prefix}”.`;
  return null;
}

/** One record as text: JSON, the record's text, or a hex preview of its bytes. */
export function recordText(p: Prediction & { text?: string; bytes?: number; hex?: string }): string {
  if (p.text != null) return p.text;
  if (p.hex != null) return `${p.bytes ?? 0} bytes: ${p.hex}${(p.bytes ?? 0) > p.hex.length / 2 ? '…' : ''}`;
  return JSON.stringify(p.values);
}

export function RecentRecords({ records }: { records: string[] }) {
  if (!records.length) return null;
  return (
    <div className="card" data-testid="recent-records">
      <h3>Latest records</h3>
      <ul className="mono small" style={{ margin: 0, paddingLeft: 18 }}>
        {records.map((r, i) => (
          <li key={i}>{r}</li>
        ))}
      </ul>
    </div>
  );
}

const ACTIVE = new Set(['created', 'running']);

/** Whether the served model's outputs are probabilities or logits (its artifact's metadata). */
export function outputKindOf(result: Pick<TrainingResult, 'artifacts'> | null | undefined, version: number): OutputKind {
  const artifact = result?.artifacts?.find((a) => a.version === version) ?? null;
  const kind = artifact?.metadata?.output_kind;
  return kind === 'logits' || kind === 'probabilities' ? kind : null;
}

/** The one state shown for an inference that no longer runs: no stream, no live badge. */
export function EndedInference({ inference }: { inference: Pick<Inference, 'id' | 'status' | 'error'> }) {
  return (
    <div className="card" data-testid="inference-ended">
      <h3>This inference is {inference.status}</h3>
      <p className="muted">
        No predictions will come from it{inference.status === 'failed' && inference.error ? <>: {inference.error.split('\n')[0]}</> : '.'}{' '}
        <Link to="/inferences">Deploy or pick a running inference</Link> to watch predictions.
      </p>
    </div>
  );
}

/** The refusal to show instead of a spinner: refused by the page, by the server, or never connecting. */
export function StreamRefusal({ refusal, socket }: { refusal: string | null; socket: SocketStatus }) {
  if (refusal)
    return (
      <div className="alert error" role="alert" data-testid="stream-refused">
        {refusal}
      </div>
    );
  if (socket.state === 'denied') {
    return (
      <div className="alert error" role="alert" data-testid="stream-refused">
        {socket.reason || 'That output topic is not one of your inferences (or you are logged out).'}
      </div>
    );
  }
  if (socket.state === 'failing') {
    return (
      <div className="alert error" role="alert" data-testid="stream-failing">
        The live stream cannot be opened: the server refused it or cannot be reached. {socket.reason && <>{socket.reason} </>}Retrying…
      </div>
    );
  }
  return null;
}

export default function Visualization() {
  const [params, setParams] = useSearchParams();
  const inferenceId = params.get('inference') ?? '';
  const topicParam = params.get('topic') ?? '';
  const list = useLoad((s) => listAll<Inference>('/api/v1/inferences/', s), []);
  const [topicInput, setTopicInput] = useState(topicParam);
  const [configText, setConfigText] = useState('');
  const [state, setState] = useState<VizState>(emptyState);
  const [subscribed, setSubscribed] = useState<string | null>(null);
  const [rate, setRate] = useState(0);
  const arrivals = useRef<number[]>([]);
  const width = state.recent.length ? state.recent[state.recent.length - 1].vector.length : 10;
  const parsed = useMemo(() => parseConfig(configText, width), [configText, width]);
  const configRef = useLatest(parsed.config);

  const kafka = useKafkaAccess();
  const refusal = selectionRefusal(list.data, inferenceId, topicParam, kafka.access?.topic_prefix);
  const [records, setRecords] = useState<string[]>([]);
  const selected = !!(inferenceId || topicParam);
  const inference = (list.data ?? []).find((i) => String(i.id) === inferenceId);
  // A stopped (or failed) inference gets one clear state, and no stream is opened for it.
  const ended = !!inference && !ACTIVE.has(inference.status);
  const served = useLoad(
    (s) => (inference && !ended ? api.get<TrainingResult>(`/api/v1/results/${inference.serving_result}/`, s) : Promise.resolve(null)),
    [inference?.serving_result, ended],
  );
  const kindRef = useLatest<OutputKind>(inference ? outputKindOf(served.data, inference.model_version) : null);
  const path =
    refusal || ended || (inferenceId && !list.data && !list.error)
      ? null
      : inferenceId
        ? `/ws/predictions/?inference=${encodeURIComponent(inferenceId)}`
        : topicParam
          ? `/ws/predictions/?topic=${encodeURIComponent(topicParam)}`
          : null;
  const socket = useSocketStatus(path, (msg) => {
    if (msg.event === 'subscribed') setSubscribed(String((msg.data as { topic?: string })?.topic ?? ''));
    if (msg.event === 'predictions' && Array.isArray(msg.data)) {
      const batch = msg.data as Prediction[];
      const now = Date.now();
      for (let i = 0; i < batch.length; i++) arrivals.current.push(now);
      setState((s) => addPredictions(s, batch, configRef.current, now, kindRef.current));
      setRecords((r) => [...batch.map(recordText).reverse(), ...r].slice(0, 20));
    }
  });
  useInterval(
    () => {
      const cutoff = Date.now() - 5000;
      arrivals.current = arrivals.current.filter((t) => t >= cutoff);
      setRate(arrivals.current.length / 5);
    },
    1000,
    !!path,
  );

  const choose = (next: Record<string, string>) => {
    setState(emptyState());
    setSubscribed(null);
    setRecords([]);
    arrivals.current = [];
    setParams(next);
  };

  const running = (list.data ?? []).filter((i) => ACTIVE.has(i.status));

  return (
    <>
      <div className="page-head">
        <h1>Visualization</h1>
        <span className="sub">Watch predictions as they flow.</span>
      </div>
      <ErrorAlert error={list.error} />
      <div className="grid two" style={{ alignItems: 'start' }}>
        <div className="card">
          <Field label="Inference" htmlFor="v-inf" hint="A running inference; its output topic is tailed from now on.">
            <select id="v-inf" value={inferenceId} onChange={(e) => choose(e.target.value ? { inference: e.target.value } : {})}>
              <option value="">Pick an inference…</option>
              {(list.data ?? []).map((i) => (
                <option key={i.id} value={i.id}>
                  #{i.id} {i.model_name} → {i.output_topic} ({i.status})
                </option>
              ))}
            </select>
          </Field>
          <Field
            label="…or any topic of yours"
            htmlFor="v-topic"
            hint="Any topic in your namespace: an inference's output, input or upper topic, a data stream. Non-prediction records are listed as they are."
          >
            <div className="actions" style={{ flexWrap: 'nowrap' }}>
              <input
                id="v-topic"
                type="text"
                value={topicInput}
                onChange={(e) => setTopicInput(e.target.value)}
                placeholder={`e.g. ${kafka.access?.topic_prefix ?? ''}my-model-out`}
              />
              <button type="button" className="btn" disabled={!topicInput.trim()} onClick={() => choose({ topic: topicInput.trim() })}>
                Watch
              </button>
            </div>
          </Field>
          {list.loading && !list.data && <Loading what="inferences" />}
          {list.data && !running.length && !selected && (
            <p className="muted">
              No inference is running. <Link to="/inferences">Deploy one</Link> to see its predictions here.
            </p>
          )}
        </div>
        <div className="card">
          <Field
            label="Display configuration (JSON)"
            htmlFor="v-config"
            errors={parsed.errors}
            hint={
              <>
                Optional. <code>type</code>: classification | regression; <code>labels</code>: [{'{id, label, color}'}];{' '}
                <code>average_window</code>: predictions kept; <code>average_updated</code>: headline the window's average instead of the
                latest. Empty = classification over {width} classes.
              </>
            }
          >
            <textarea
              id="v-config"
              rows={6}
              value={configText}
              placeholder={`For example:\n${EXAMPLE}`}
              onChange={(e) => setConfigText(e.target.value)}
            />
          </Field>
        </div>
      </div>

      {!selected ? (
        <Empty title="Nothing selected">Pick a running inference or type one of your topics above.</Empty>
      ) : refusal || socket.state === 'denied' ? (
        <StreamRefusal refusal={refusal} socket={socket} />
      ) : ended && inference ? (
        <EndedInference inference={inference} />
      ) : (
        <>
          <StreamRefusal refusal={null} socket={socket} />
          <div className="card">
            <div className="stats">
              <div className="stat">
                <div className="k">Connection</div>
                <div className="v">
                  <LiveDot state={socket.state} />
                </div>
              </div>
              <div className="stat">
                <div className="k">Topic</div>
                <div className="v mono" style={{ fontSize: 13 }}>
                  {subscribed || inference?.output_topic || topicParam || '…'}
                </div>
              </div>
              <div className="stat">
                <div className="k">Predictions seen</div>
                <div className="v" data-testid="predictions-seen">
                  {state.total}
                </div>
              </div>
              <div className="stat">
                <div className="k">Per second</div>
                <div className="v">{rate.toFixed(1)}</div>
              </div>
              {state.lastVersion != null && (
                <div className="stat">
                  <div className="k">Model version</div>
                  <div className="v">v{state.lastVersion}</div>
                </div>
              )}
            </div>
            {state.total === 0 && socket.state === 'open' && (
              <p className="muted small">
                Listening from now on: send records to {inference ? <code>{inference.input_topic}</code> : 'the input topic'} to see
                predictions.
              </p>
            )}
          </div>
          {parsed.config.type === 'classification' ? (
            <ClassificationView state={state} config={parsed.config} />
          ) : (
            <RegressionView state={state} config={parsed.config} />
          )}
          <RecentRecords records={records} />
        </>
      )}
    </>
  );
}
