import type { ReactNode } from 'react';
import { Field } from './ui';

/** The fields every inference form has (a single model's and a whole chain's): what it reads,
 *  where it answers, how many replicas, which runtime. Ids are `<idPrefix>-format`, `-config`,
 *  `-in`, `-out`, `-replicas`, `-runtime`. */
export interface InferenceIoValues {
  input_format: string;
  input_config: string;
  input_topic: string;
  output_topic: string;
}

export type InferenceIoField = keyof InferenceIoValues;

export const INPUT_FORMATS = ['RAW', 'AVRO', 'JSON', 'TELEGRAF_STR_JSON'] as const;

const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
export const TOPIC_PROBLEM = 'A topic name: letters, digits, . _ - (up to 249).';

/** Why the input configuration is not a JSON object, or null. */
export function inputConfigProblem(text: string): string | null {
  try {
    const v = JSON.parse(text || '{}');
    if (!v || typeof v !== 'object' || Array.isArray(v)) return 'Give a JSON object.';
  } catch (err) {
    return `Not valid JSON: ${(err as Error).message}`;
  }
  return null;
}

export const isTopicName = (name: string) => TOPIC.test(name);

/** Why the replica count is refused (1 to 64), or null. */
export function replicasProblem(value: string): string | null {
  const r = Number(value);
  return !Number.isInteger(r) || r < 1 || r > 64 ? 'Replicas must be a whole number from 1 to 64.' : null;
}

export interface InferenceIoFieldsProps {
  idPrefix: string;
  values: InferenceIoValues;
  onChange: (field: InferenceIoField, value: string) => void;
  errors: (field: string) => string[];
  hints: { config: ReactNode; input: ReactNode; output: ReactNode };
  configRows?: number;
  /** the user's topic prefix, for the topic placeholders */
  prefix?: string;
}

/** Input format, input configuration, input topic, output topic. */
export function InferenceIoFields({ idPrefix: p, values, onChange, errors, hints, configRows = 5, prefix }: InferenceIoFieldsProps) {
  const topic = (field: 'input_topic' | 'output_topic', id: string, label: string, hint: ReactNode, example: string) => (
    <Field label={label} htmlFor={id} errors={errors(field)} hint={hint}>
      <input
        id={id}
        type="text"
        value={values[field]}
        placeholder={prefix != null ? `e.g. ${prefix}${example}` : undefined}
        onChange={(e) => onChange(field, e.target.value)}
      />
    </Field>
  );
  return (
    <>
      <Field label="Input format" htmlFor={`${p}-format`} errors={errors('input_format')}>
        <select id={`${p}-format`} value={values.input_format} onChange={(e) => onChange('input_format', e.target.value)}>
          {INPUT_FORMATS.map((f) => (
            <option key={f}>{f}</option>
          ))}
        </select>
      </Field>
      <Field label="Input configuration (JSON)" htmlFor={`${p}-config`} errors={errors('input_config')} hint={hints.config}>
        <textarea
          id={`${p}-config`}
          rows={configRows}
          value={values.input_config}
          onChange={(e) => onChange('input_config', e.target.value)}
        />
      </Field>
      {topic('input_topic', `${p}-in`, 'Input topic', hints.input, 'my-model-in')}
      {topic('output_topic', `${p}-out`, 'Output topic', hints.output, 'my-model-out')}
    </>
  );
}

export interface ServingFieldsProps {
  idPrefix: string;
  replicas: string;
  runtime: string;
  framework: string;
  onChange: (field: 'replicas' | 'runtime', value: string) => void;
  errors: (field: string) => string[];
  replicasLabel?: string;
  replicasHint?: ReactNode;
  runtimeHint?: ReactNode;
  /** offer the external model server runtime */
  external?: boolean;
  /** fields shown between replicas and runtime (GPUs) */
  children?: ReactNode;
}

/** Replicas and runtime (ONNX Runtime, the model's framework natively, optionally an external server). */
export function ServingFields({
  idPrefix: p,
  replicas,
  runtime,
  framework,
  onChange,
  errors,
  replicasLabel = 'Replicas',
  replicasHint,
  runtimeHint,
  external,
  children,
}: ServingFieldsProps) {
  const native = framework === 'pytorch' ? 'pytorch' : 'keras';
  return (
    <div className="row">
      <Field label={replicasLabel} htmlFor={`${p}-replicas`} errors={errors('replicas')} hint={replicasHint}>
        <input
          id={`${p}-replicas`}
          type="number"
          min={1}
          max={64}
          value={replicas}
          onChange={(e) => onChange('replicas', e.target.value)}
        />
      </Field>
      {children}
      <Field label="Runtime" htmlFor={`${p}-runtime`} errors={errors('runtime')} hint={runtimeHint}>
        <select id={`${p}-runtime`} value={runtime} onChange={(e) => onChange('runtime', e.target.value)}>
          <option value="onnx">ONNX Runtime</option>
          <option value={native}>{native === 'pytorch' ? 'PyTorch' : 'Keras'} (native)</option>
          {external && <option value="external">External model server</option>}
        </select>
      </Field>
    </div>
  );
}
