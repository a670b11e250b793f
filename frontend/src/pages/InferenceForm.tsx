import { FormEvent, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { api, ApiError, listAll, type FieldErrors } from '../lib/api';
import { formErrors, type KafkaAccess } from '../lib/accounts';
import { ownsTopic, useKafkaAccess } from '../lib/kafkaAccess';
import type { Datasource, Inference, MLModel, TrainingResult } from '../lib/types';
import { Check, ErrorAlert, Field, Loading, Spinner, useLoad } from '../components/ui';
import {
  InferenceIoFields,
  inputConfigProblem,
  isTopicName,
  replicasProblem,
  ServingFields,
  TOPIC_PROBLEM,
} from '../components/InferenceFields';
import { ChainInferenceForm, type ChainPlan } from './ChainInferenceForm';

export interface InferenceDraft {
  replicas: string;
  input_format: string;
  input_config: string;
  input_topic: string;
  output_topic: string;
  upper_topic: string;
  limit: string;
  batch_size: string;
  max_wait_ms: string;
  runtime: string;
  delivery: string;
  /** swap to each newer version the result publishes (incremental training) */
  follow_latest?: boolean;
  /** runtime 'external': the model server (Open Inference Protocol V2 or TF Serving REST) */
  external_url?: string;
  external_model?: string;
  external_protocol?: string;
  /** edge/fog/cloud on different clusters: host:port lists; blank = the platform's cluster */
  input_bootstrap_servers?: string;
  output_bootstrap_servers?: string;
  upper_bootstrap_servers?: string;
  /** GPUs per replica */
  gpus?: string;
}

const CLUSTER_FIELDS = ['input_bootstrap_servers', 'output_bootstrap_servers', 'upper_bootstrap_servers'] as const;

/** A `host:port[,host:port…]` list, or blank; else why not. */
export function bootstrapProblem(value: string | undefined): string | null {
  const text = (value ?? '').trim();
  if (!text) return null;
  for (const item of text.split(',').map((x) => x.trim())) {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?):(\d{1,5})$/.exec(item);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return `“${item}” is not host:port (e.g. edge-kafka:9092; several: a:9092,b:9092).`;
  }
  return null;
}

/** The cluster a field names, as a comparable set ('' = the platform's). */
const clusterOf = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .sort()
    .join(',');

/** Suggested values; topics go inside the user's namespace when `prefix` is given (`alice.`). */
export function inferenceDefaults(result: TrainingResult, source: Datasource | null, hasUpper: boolean, prefix = ''): InferenceDraft {
  const name = `${
    result.model_name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'model'
  }-${result.id}`;
  const base = prefix ? `${prefix}${name}` : `kafkaml-${name}`;
  return {
    replicas: '1',
    input_format: source?.input_format ?? 'RAW',
    input_config: JSON.stringify(source?.input_config ?? {}, null, 2),
    input_topic: `${base}-in`,
    output_topic: `${base}-out`,
    upper_topic: hasUpper ? `${base}-up` : '',
    limit: hasUpper ? '0.8' : '',
    batch_size: '256',
    max_wait_ms: '20',
    runtime: 'onnx',
    delivery: 'at_least_once',
  };
}

const TOPIC_FIELDS = ['input_topic', 'output_topic', 'upper_topic'] as const;
const FORM_FIELDS = [
  'replicas',
  'input_format',
  'input_config',
  ...TOPIC_FIELDS,
  'limit',
  'batch_size',
  'max_wait_ms',
  'runtime',
  'delivery',
  ...CLUSTER_FIELDS,
  'gpus',
];

/** `prefix`: when given, a topic outside it is flagged before the server refuses it. */
export function inferenceProblems(d: InferenceDraft, chain: boolean, prefix = ''): Record<string, string> {
  const p: Record<string, string> = {};
  const replicas = replicasProblem(d.replicas);
  if (replicas) p.replicas = replicas;
  const config = inputConfigProblem(d.input_config);
  if (config) p.input_config = config;
  if (!isTopicName(d.input_topic)) p.input_topic = TOPIC_PROBLEM;
  if (!isTopicName(d.output_topic)) p.output_topic = TOPIC_PROBLEM;
  if (d.input_topic && d.input_topic === d.output_topic) p.output_topic = 'The output topic must differ from the input topic.';
  if (chain) {
    if (!isTopicName(d.upper_topic)) p.upper_topic = 'A sub-model needs the topic its upper model reads.';
    const l = Number(d.limit);
    if (d.limit.trim() === '' || !(l >= 0 && l <= 1)) p.limit = 'A confidence between 0 and 1.';
  }
  if (prefix) {
    for (const f of TOPIC_FIELDS) {
      if (f === 'upper_topic' && !chain) continue;
      if (!p[f] && d[f] && !ownsTopic({ topic_prefix: prefix }, d[f].trim()))
        p[f] = `Your topics start with “${prefix}”: any other is refused.`;
    }
  }
  const b = Number(d.batch_size);
  if (!Number.isInteger(b) || b < 1 || b > 100000) p.batch_size = 'A whole number from 1 to 100,000.';
  const w = Number(d.max_wait_ms);
  if (!Number.isInteger(w) || w < 0 || w > 60000) p.max_wait_ms = 'A whole number of ms from 0 to 60,000.';
  for (const f of CLUSTER_FIELDS) {
    const problem = bootstrapProblem(d[f]);
    if (problem) p[f] = problem;
  }
  if (!chain && (d.upper_bootstrap_servers ?? '').trim()) p.upper_bootstrap_servers = 'Only with an upper topic.';
  const output = clusterOf(d.output_bootstrap_servers);
  const clusters = new Set([
    clusterOf(d.input_bootstrap_servers),
    output,
    ...(chain ? [clusterOf(d.upper_bootstrap_servers) || output] : []),
  ]);
  if (d.delivery === 'exactly_once' && clusters.size > 1)
    p.delivery = 'Exactly once needs one cluster: a Kafka transaction cannot span clusters.';
  const g = Number(d.gpus ?? '0');
  if ((d.gpus ?? '').trim() && (!Number.isInteger(g) || g < 0 || g > 16)) p.gpus = 'A whole number from 0 to 16.';
  if (d.runtime === 'external') {
    if (!/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test((d.external_url ?? '').trim()))
      p.external_url = 'The model server, e.g. http://mlserver:8080.';
    if (!/^[A-Za-z0-9_.-]{1,200}$/.test((d.external_model ?? '').trim())) p.external_model = 'The model name on the server.';
  }
  return p;
}

/** Where a refused submission's messages go: next to their fields, or in the alert above.
 *  A refusal naming a topic but no field (a bare 409) goes to the field holding that topic. */
export function inferenceApiErrors(err: unknown, d: InferenceDraft): { fields: FieldErrors; general: string | null } {
  const placed = formErrors(err, FORM_FIELDS);
  if (!(err instanceof ApiError) || Object.keys(err.errors).length) return placed;
  const mentioned = TOPIC_FIELDS.filter((f) => d[f].trim() && err.detail.includes(d[f].trim()));
  // `alice.m-in` is inside `alice.m-in-2`: the longer name is the one meant.
  const named = mentioned.filter(
    (f) => !mentioned.some((g) => g !== f && d[g].trim().length > d[f].trim().length && d[g].includes(d[f].trim())),
  );
  if (!named.length) return placed;
  return { fields: Object.fromEntries(named.map((f) => [f, [err.detail]])), general: null };
}

export interface InferenceFormViewProps {
  result: TrainingResult;
  source: Datasource | null;
  chain: boolean;
  /** The user's Kafka access (prefix, …); `prefixKnown`: the server said so (else derived). */
  access: Pick<KafkaAccess, 'topic_prefix'>;
  prefixKnown: boolean;
  onSubmit: (body: Record<string, unknown>) => Promise<void>;
  /** An upper sub-model of a chain reads the lower one's output, not the training data. */
  reads?: { input_format: string; input_config: Record<string, unknown>; from: string } | null;
  /** Set for a result of a distributed chain: offer to deploy the whole chain instead. */
  chainLink?: string | null;
}

export function InferenceFormView({ result: r, source, chain, access, prefixKnown, onSubmit, reads, chainLink }: InferenceFormViewProps) {
  const prefix = access.topic_prefix;
  const [d, setD] = useState<InferenceDraft>(() => {
    const draft = inferenceDefaults(r, source, chain, prefix);
    return reads ? { ...draft, input_format: reads.input_format, input_config: JSON.stringify(reads.input_config, null, 2) } : draft;
  });
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const problems = inferenceProblems(d, chain, prefixKnown ? prefix : '');
  const refused = inferenceApiErrors(error, d);
  const set = <K extends keyof InferenceDraft>(k: K, v: string) => setD((x) => ({ ...x, [k]: v }));
  const fe = (f: string) => [...(touched && problems[f] ? [problems[f]] : []), ...(refused.fields[f] ?? [])];
  const topicHint = (text: string) => (
    <>
      {text} Starts with <code>{prefix}</code>, your namespace.
    </>
  );

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    setError(null);
    if (Object.keys(problems).length) return;
    setBusy(true);
    try {
      const body: Record<string, unknown> = {
        result: r.id,
        replicas: Number(d.replicas),
        input_format: d.input_format,
        input_config: JSON.parse(d.input_config || '{}'),
        input_topic: d.input_topic.trim(),
        output_topic: d.output_topic.trim(),
        batch_size: Number(d.batch_size),
        max_wait_ms: Number(d.max_wait_ms),
        runtime: d.runtime,
        delivery: d.delivery,
      };
      if (d.follow_latest) body.follow_latest = true;
      if (d.runtime === 'external') {
        body.external = {
          url: (d.external_url ?? '').trim(),
          model_name: (d.external_model ?? '').trim(),
          protocol: d.external_protocol || 'v2',
        };
      }
      if (chain) {
        body.upper_topic = d.upper_topic.trim();
        body.limit = Number(d.limit);
      }
      for (const f of CLUSTER_FIELDS) if ((d[f] ?? '').trim()) body[f] = (d[f] ?? '').trim();
      if (Number(d.gpus || '0') > 0) body.gpus = Number(d.gpus);
      await onSubmit(body);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} aria-label="Deploy for inference" noValidate>
      <div className="page-head">
        <h1>Deploy “{r.model_name}” for inference</h1>
        <span className="spacer" />
        <Link className="btn" to={`/results/${r.id}`}>
          Cancel
        </Link>
      </div>
      {refused.general && (
        <div className="alert error" role="alert">
          {refused.general}
        </div>
      )}
      {chainLink && (
        <div className="alert info small" data-testid="chain-hint">
          This model is part of a distributed chain. <Link to={chainLink}>Deploy the whole chain for inference</Link> in one go: the topics
          between the sub-models are wired for you.
        </div>
      )}
      <div className="grid two" style={{ alignItems: 'start' }}>
        <div className="card">
          <h2>Input</h2>
          <p className="muted small" data-testid="input-source">
            {reads ? (
              <>This model reads the output of {reads.from} (RAW float32 rows), not the training data.</>
            ) : source ? (
              <>Format and configuration are taken from datasource #{source.id}, the data this model was trained on.</>
            ) : (
              'No datasource found for this training: check the format.'
            )}
          </p>
          <InferenceIoFields
            idPrefix="i"
            values={d}
            onChange={set}
            errors={fe}
            prefix={prefix}
            hints={{
              config: 'RAW: data_type, data_reshape; AVRO: data_scheme; JSON: data_reshape, fields; TELEGRAF_STR_JSON: fields, name.',
              input: topicHint('Send records to predict here.'),
              output: topicHint('Predictions arrive here as JSON {"values": [...]}.'),
            }}
          />
          {chain && (
            <div className="row">
              <Field
                label="Upper topic"
                htmlFor="i-up"
                errors={fe('upper_topic')}
                hint={topicHint('Records this sub-model is unsure about go on here, to the upper model.')}
              >
                <input
                  id="i-up"
                  type="text"
                  value={d.upper_topic}
                  placeholder={`e.g. ${prefix}my-model-up`}
                  onChange={(e) => set('upper_topic', e.target.value)}
                />
              </Field>
              <Field label="Limit" htmlFor="i-limit" errors={fe('limit')} hint="Below this confidence a record goes up.">
                <input
                  id="i-limit"
                  type="number"
                  step="0.01"
                  min={0}
                  max={1}
                  value={d.limit}
                  onChange={(e) => set('limit', e.target.value)}
                />
              </Field>
            </div>
          )}
        </div>
        <details className="card" open={CLUSTER_FIELDS.some((f) => !!(d[f] ?? '').trim() || fe(f).length > 0)}>
          <summary>
            <h2 style={{ display: 'inline' }}>Kafka clusters</h2>{' '}
            <span className="muted small">edge, fog and cloud on different clusters</span>
          </summary>
          <p className="muted small">
            Blank: the platform&apos;s cluster. Other clusters use the platform&apos;s security settings. Exactly once needs one cluster.
          </p>
          <Field
            label="Input cluster"
            htmlFor="i-in-servers"
            errors={fe('input_bootstrap_servers')}
            hint="Where the input topic is, e.g. edge-kafka:9092."
          >
            <input
              id="i-in-servers"
              type="text"
              value={d.input_bootstrap_servers ?? ''}
              placeholder="e.g. edge-kafka:9092"
              onChange={(e) => set('input_bootstrap_servers', e.target.value)}
            />
          </Field>
          <Field
            label="Output cluster"
            htmlFor="i-out-servers"
            errors={fe('output_bootstrap_servers')}
            hint="Where the output topic (and dead letters) are."
          >
            <input
              id="i-out-servers"
              type="text"
              value={d.output_bootstrap_servers ?? ''}
              placeholder="e.g. cloud-kafka:9092"
              onChange={(e) => set('output_bootstrap_servers', e.target.value)}
            />
          </Field>
          {chain && (
            <Field
              label="Upper cluster"
              htmlFor="i-up-servers"
              errors={fe('upper_bootstrap_servers')}
              hint="Where the upper topic is (blank: the output's)."
            >
              <input
                id="i-up-servers"
                type="text"
                value={d.upper_bootstrap_servers ?? ''}
                placeholder="e.g. fog-kafka:9092"
                onChange={(e) => set('upper_bootstrap_servers', e.target.value)}
              />
            </Field>
          )}
        </details>
        <div className="card">
          <h2>Serving</h2>
          <ServingFields
            idPrefix="i"
            replicas={d.replicas}
            runtime={d.runtime}
            framework={r.framework}
            onChange={set}
            errors={fe}
            replicasHint="Workers in one consumer group (at most the topic's partitions do work)."
            runtimeHint="ONNX Runtime is fastest on CPU."
            external
          >
            <Field label="GPUs per replica" htmlFor="i-gpus" errors={fe('gpus')} hint="Counted against your GPU cap with your training.">
              <input id="i-gpus" type="number" min={0} max={16} value={d.gpus ?? '0'} onChange={(e) => set('gpus', e.target.value)} />
            </Field>
          </ServingFields>
          {d.runtime === 'external' && (
            <div className="row">
              <Field
                label="Model server URL"
                htmlFor="i-ext-url"
                errors={fe('external_url')}
                hint="Each micro-batch is one request; an unreachable server pauses the inference (nothing lost)."
              >
                <input
                  id="i-ext-url"
                  value={d.external_url ?? ''}
                  placeholder="e.g. http://mlserver:8080"
                  onChange={(e) => set('external_url', e.target.value)}
                />
              </Field>
              <Field label="Model name" htmlFor="i-ext-model" errors={fe('external_model')}>
                <input id="i-ext-model" value={d.external_model ?? ''} onChange={(e) => set('external_model', e.target.value)} />
              </Field>
              <Field label="Protocol" htmlFor="i-ext-protocol">
                <select id="i-ext-protocol" value={d.external_protocol || 'v2'} onChange={(e) => set('external_protocol', e.target.value)}>
                  <option value="v2">Open Inference Protocol V2 (MLServer, KServe, Triton)</option>
                  <option value="tfserving">TF Serving REST</option>
                </select>
              </Field>
            </div>
          )}
          <div className="row">
            <Field label="Micro-batch size" htmlFor="i-batch" errors={fe('batch_size')}>
              <input id="i-batch" type="number" min={1} value={d.batch_size} onChange={(e) => set('batch_size', e.target.value)} />
            </Field>
            <Field label="Max wait (ms)" htmlFor="i-wait" errors={fe('max_wait_ms')} hint="How long a batch waits to fill.">
              <input id="i-wait" type="number" min={0} value={d.max_wait_ms} onChange={(e) => set('max_wait_ms', e.target.value)} />
            </Field>
          </div>
          <Check
            id="i-follow"
            label="Follow the latest version"
            checked={!!d.follow_latest}
            onChange={(v) => setD((x) => ({ ...x, follow_latest: v }))}
            hint="Swap to each newer version this result publishes (incremental training), without a restart or lost records."
          />
          <Field
            label="Delivery"
            htmlFor="i-delivery"
            errors={fe('delivery')}
            hint={
              d.delivery === 'exactly_once' ? (
                <>
                  Each input answered exactly once (Kafka transactions). Read the output with <code>isolation.level=read_committed</code>;
                  outputs appear when a transaction commits (every ~200 ms). Not on the embedded broker.
                </>
              ) : (
                'Nothing lost; after a crash some outputs may be written twice.'
              )
            }
          >
            <select id="i-delivery" value={d.delivery} onChange={(e) => set('delivery', e.target.value)}>
              <option value="at_least_once">At least once</option>
              <option value="exactly_once">Exactly once</option>
            </select>
          </Field>
          <button type="submit" className="btn primary" disabled={busy}>
            {busy && <Spinner />} Deploy inference
          </button>
          {touched && Object.keys(problems).length > 0 && <span className="error-text"> Fix the marked fields first.</span>}
        </div>
      </div>
    </form>
  );
}

export default function InferenceForm() {
  const { id } = useParams();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  // The chain this result belongs to (no members when none); an older server answers nothing.
  const plan = useLoad((s) => api.get<ChainPlan>(`/api/v1/inferences/chain/?result=${id}`, s).catch(() => null), [id]);
  const res = useLoad((s) => api.get<TrainingResult>(`/api/v1/results/${id}/`, s), [id]);
  const sources = useLoad(
    async (s) => {
      const r = await api.get<TrainingResult>(`/api/v1/results/${id}/`, s);
      const deps = await api.get<{ datasource: number | null }>(`/api/v1/deployments/${r.deployment}/`, s);
      if (deps.datasource) return [await api.get<Datasource>(`/api/v1/datasources/${deps.datasource}/`, s)];
      return listAll<Datasource>(`/api/v1/datasources/?deployment=${r.deployment}`, s);
    },
    [id],
  );
  const model = useLoad(
    (s) => (res.data ? api.get<MLModel>(`/api/v1/models/${res.data.model}/`, s) : Promise.resolve(null)),
    [res.data?.model],
  );
  const kafka = useKafkaAccess();
  const chain = !!model.data?.distributed && model.data.upper_model != null;

  if (res.error) return <ErrorAlert error={res.error} />;
  // The draft is made once, on mount: wait for this result's own model (chain or not) and the prefix.
  const modelReady = !!res.data && (model.data?.id === res.data.model || (!!model.error && !model.loading));
  if (!res.data || sources.loading || !modelReady || !kafka.access || plan.loading) return <Loading what="the trained model" />;
  const members = plan.data?.members ?? [];
  const source = sources.data?.[0] ?? null;
  if (params.get('chain') === '1' && members.length && plan.data) {
    return (
      <ChainInferenceForm
        plan={plan.data}
        leader={res.data}
        source={source}
        prefix={kafka.access.topic_prefix}
        onSubmit={async (body) => {
          const out = await api.post<{ inferences: Inference[] }>('/api/v1/inferences/chain/', body);
          navigate(`/inferences?created=${out.inferences[0]?.id ?? ''}`);
        }}
      />
    );
  }
  const at = members.findIndex((m) => m.result === res.data?.id);
  const me = at > 0 ? members[at] : null;
  const reads =
    me?.input_format && me.input_config
      ? { input_format: me.input_format, input_config: me.input_config, from: members[at - 1].model_name }
      : null;
  return (
    <InferenceFormView
      result={res.data}
      source={source}
      chain={chain}
      access={kafka.access}
      prefixKnown={kafka.fromServer}
      reads={reads}
      chainLink={members.length ? `/results/${plan.data?.leader}/inference?chain=1` : null}
      onSubmit={async (body) => {
        const inf = await api.post<Inference>('/api/v1/inferences/', body);
        navigate(`/inferences?created=${inf.id}`);
      }}
    />
  );
}
