import { FormEvent, useState } from 'react';
import { Link } from 'react-router-dom';
import { api, ApiError } from '../lib/api';
import { formErrors } from '../lib/accounts';
import { ownsTopic } from '../lib/kafkaAccess';
import type { Datasource, Inference, TrainingResult } from '../lib/types';
import { Field, Spinner, useLoad } from '../components/ui';
import {
  InferenceIoFields,
  inputConfigProblem,
  isTopicName,
  replicasProblem,
  ServingFields,
  TOPIC_PROBLEM,
} from '../components/InferenceFields';
import { inferenceDefaults } from './InferenceForm';

/** GET /api/v1/inferences/chain/?result=<id>: a chain's sub-models, edge first, and what the
 *  upper ones read (the lower one's output); no members for a result that is no chain's. */
export interface ChainPlan {
  leader: number | null;
  members: {
    result: number;
    model: number;
    model_name: string;
    status: string;
    /** it sends the records it is unsure about on: it needs a limit */
    upper: boolean;
    input_format?: string;
    input_config?: Record<string, unknown>;
  }[];
}

export interface ChainDraft {
  input_format: string;
  input_config: string;
  input_topic: string;
  output_topic: string;
  limits: string[];
  replicas: string;
  runtime: string;
  delivery: string;
}

export function chainDefaults(plan: ChainPlan, leader: TrainingResult, source: Datasource | null, prefix: string): ChainDraft {
  const d = inferenceDefaults(leader, source, false, prefix);
  return {
    input_format: d.input_format,
    input_config: d.input_config,
    input_topic: d.input_topic.replace(/-in$/, '-chain-in'),
    output_topic: d.output_topic.replace(/-out$/, '-chain-out'),
    limits: plan.members.filter((m) => m.upper).map(() => '0.8'),
    replicas: '1',
    runtime: 'onnx',
    delivery: 'at_least_once',
  };
}

export function chainProblems(d: ChainDraft, prefix: string): Record<string, string> {
  const p: Record<string, string> = {};
  const config = inputConfigProblem(d.input_config);
  if (config) p.input_config = config;
  for (const f of ['input_topic', 'output_topic'] as const) {
    if (!isTopicName(d[f])) p[f] = TOPIC_PROBLEM;
    else if (prefix && !ownsTopic({ topic_prefix: prefix }, d[f].trim()))
      p[f] = `Your topics start with “${prefix}”: any other is refused.`;
  }
  if (!p.output_topic && d.input_topic === d.output_topic) p.output_topic = 'The output topic must differ from the input topic.';
  d.limits.forEach((l, i) => {
    const n = Number(l);
    if (l.trim() === '' || !(n >= 0 && n <= 1)) p[`limit-${i}`] = 'A confidence between 0 and 1.';
  });
  const replicas = replicasProblem(d.replicas);
  if (replicas) p.replicas = replicas;
  return p;
}

/** The body of POST /api/v1/inferences/chain/. */
export function chainBody(plan: ChainPlan, d: ChainDraft): Record<string, unknown> {
  return {
    result: plan.leader,
    input_format: d.input_format,
    input_config: JSON.parse(d.input_config || '{}'),
    input_topic: d.input_topic.trim(),
    output_topic: d.output_topic.trim(),
    limits: d.limits.map(Number),
    replicas: Number(d.replicas),
    runtime: d.runtime,
    delivery: d.delivery,
  };
}

export interface ChainInferenceFormProps {
  plan: ChainPlan;
  leader: TrainingResult;
  source: Datasource | null;
  prefix: string;
  onSubmit: (body: Record<string, unknown>) => Promise<Inference[] | void>;
}

/** Deploy a whole distributed chain for inference as one action: the edge reads the input
 *  topic, each sub-model sends what it is unsure about to the next one (topics generated and
 *  wired by the server), and every sub-model answers on the output topic. */
export function ChainInferenceForm({ plan, leader, source, prefix, onSubmit }: ChainInferenceFormProps) {
  const [d, setD] = useState<ChainDraft>(() => chainDefaults(plan, leader, source, prefix));
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const problems = chainProblems(d, prefix);
  const refused = formErrors(error, ['input_format', 'input_config', 'input_topic', 'output_topic', 'replicas', 'runtime', 'delivery']);
  // A refusal about an upper sub-model ("cloud (result #12): …") is no field of this form.
  const aboutUpper = error instanceof ApiError && /\(result #\d+\):/.test(error.detail);
  const general = aboutUpper ? (error as ApiError).detail : refused.general;
  const fe = (f: string) => [...(touched && problems[f] ? [problems[f]] : []), ...(aboutUpper ? [] : (refused.fields[f] ?? []))];
  const set = <K extends keyof ChainDraft>(k: K, v: ChainDraft[K]) => setD((x) => ({ ...x, [k]: v }));
  const senders = plan.members.filter((m) => m.upper);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    setError(null);
    if (Object.keys(problems).length) return;
    setBusy(true);
    try {
      await onSubmit(chainBody(plan, d));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} aria-label="Deploy chain for inference" noValidate>
      <div className="page-head">
        <h1>Deploy the chain {plan.members.map((m) => m.model_name).join(' → ')} for inference</h1>
        <span className="spacer" />
        <Link className="btn" to={`/results/${leader.id}`}>
          Cancel
        </Link>
      </div>
      {general && (
        <div className="alert error" role="alert">
          {general}
        </div>
      )}
      <p className="muted small" data-testid="chain-wiring">
        One inference per sub-model.{' '}
        {senders.map((m, i) => (
          <span key={m.result}>
            {m.model_name} sends the records it is unsure about to {plan.members[plan.members.indexOf(m) + 1]?.model_name}
            {i < senders.length - 1 ? '; ' : '. '}
          </span>
        ))}
        The topics between them are made for you (in your namespace); each upper model reads the output of the one below
        {plan.members
          .slice(1)
          .map((m) => (m.input_config?.data_reshape ? ` (${m.model_name}: ${String(m.input_config.data_reshape)} values)` : ''))
          .join('')}
        . Every sub-model answers on the output topic.
      </p>
      <div className="grid two" style={{ alignItems: 'start' }}>
        <div className="card">
          <h2>Input of {plan.members[0]?.model_name}</h2>
          <InferenceIoFields
            idPrefix="c"
            values={d}
            onChange={set}
            errors={fe}
            configRows={4}
            hints={{
              config: 'What the edge model reads (from the training data).',
              input: 'Send records to predict here.',
              output: 'Predictions of every sub-model arrive here.',
            }}
          />
        </div>
        <div className="card">
          <h2>Early exit</h2>
          {senders.map((m, i) => (
            <Field
              key={m.result}
              label={`Limit of ${m.model_name}`}
              htmlFor={`c-limit-${i}`}
              errors={fe(`limit-${i}`)}
              hint="Below this confidence a record goes up."
            >
              <input
                id={`c-limit-${i}`}
                type="number"
                step="0.01"
                min={0}
                max={1}
                value={d.limits[i]}
                onChange={(e) =>
                  set(
                    'limits',
                    d.limits.map((l, j) => (j === i ? e.target.value : l)),
                  )
                }
              />
            </Field>
          ))}
          <ServingFields
            idPrefix="c"
            replicas={d.replicas}
            runtime={d.runtime}
            framework={leader.framework}
            onChange={set}
            errors={fe}
            replicasLabel="Replicas (each)"
          />
          <button type="submit" className="btn primary" disabled={busy}>
            {busy && <Spinner />} Deploy chain
          </button>
          {touched && Object.keys(problems).length > 0 && <span className="error-text"> Fix the marked fields first.</span>}
        </div>
      </div>
    </form>
  );
}

/** "Deploy chain for inference", shown on a result of a distributed chain (nothing otherwise). */
export function DeployChainLink({ resultId }: { resultId: number }) {
  const plan = useLoad((s) => api.get<ChainPlan>(`/api/v1/inferences/chain/?result=${resultId}`, s).catch(() => null), [resultId]);
  if (!plan.data?.members?.length || plan.data.leader == null) return null;
  return (
    <Link
      className="btn primary"
      data-testid="deploy-chain"
      to={`/results/${plan.data.leader}/inference?chain=1`}
      title={`One inference per sub-model (${plan.data.members.map((m) => m.model_name).join(' → ')}), topics wired`}
    >
      Deploy chain for inference
    </Link>
  );
}
