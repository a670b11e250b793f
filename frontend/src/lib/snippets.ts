// Text the results page shows so a user can send data to a deployment right away.

/** How a client authenticates to a secured broker; null on the embedded broker (PLAINTEXT).
 *  Never holds the password: snippets read it from $KAFKA_SASL_PASSWORD. */
export interface SnippetSecurity {
  protocol: string;
  mechanism: string | null;
  username: string | null;
}

export const PASSWORD_ENV = 'KAFKA_SASL_PASSWORD';

export interface SnippetInput {
  deploymentId: number;
  topic: string;
  bootstrapServers: string;
  controlTopic?: string;
  validationRate?: number;
  testRate?: number;
  security?: SnippetSecurity | null;
}

/** The security part of a user's Kafka access, for snippets: null on a PLAINTEXT broker (the
 *  embedded one). Any other protocol is set even when the platform issues no credentials
 *  (a TLS-only cluster still needs `SSL`); the username is then a placeholder. */
export function snippetSecurity(
  access: { security_protocol: string; sasl_mechanism: string | null; username: string | null } | null | undefined,
): SnippetSecurity | null {
  if (!access?.security_protocol || access.security_protocol.toUpperCase() === 'PLAINTEXT') return null;
  return { protocol: access.security_protocol.toUpperCase(), mechanism: access.sasl_mechanism, username: access.username };
}

function usesTls(s: SnippetSecurity): boolean {
  return s.protocol.endsWith('SSL');
}

export function usesSasl(s: SnippetSecurity): boolean {
  return s.protocol.startsWith('SASL_');
}

/** The training topic a deployment's snippet suggests, inside the user's prefix (`alice.train-7`). */
export function defaultTopic(deploymentId: number, prefix = ''): string {
  return prefix ? `${prefix}train-${deploymentId}` : `kafkaml-train-${deploymentId}`;
}

function hasCustomControlTopic(controlTopic: string | undefined): controlTopic is string {
  return !!controlTopic && controlTopic !== 'KAFKA_ML_CONTROL_TOPIC';
}

/** Keyword arguments of the original-compatible sinks (kafka-python's names). */
function pythonSecurityKwargs(security: SnippetSecurity | null | undefined): string {
  if (!security) return '';
  const lines = [`    security_protocol=${JSON.stringify(security.protocol)},`];
  if (usesSasl(security)) {
    if (security.mechanism) lines.push(`    sasl_mechanism=${JSON.stringify(security.mechanism)},`);
    lines.push(`    sasl_plain_username=${JSON.stringify(security.username ?? '<your Kafka username>')},`);
    lines.push(`    sasl_plain_password=os.environ["${PASSWORD_ENV}"],  # your Kafka password (Account page)`);
  }
  if (usesTls(security)) lines.push('    # ssl_cafile="kafka-ca.pem",  # when the cluster\'s certificate comes from a private CA');
  return '\n' + lines.join('\n');
}

export function pythonSnippet(s: SnippetInput): string {
  const control = hasCustomControlTopic(s.controlTopic) ? `\n    control_topic=${JSON.stringify(s.controlTopic)},` : '';
  const needsOs = !!s.security && usesSasl(s.security);
  return `${needsOs ? 'import os\n' : ''}from sklearn.datasets import load_digits
from datasources import RawSink

digits = load_digits()
sink = RawSink(
    bootstrap_servers=${JSON.stringify(s.bootstrapServers)},
    topic=${JSON.stringify(s.topic)},
    deployment_id=${s.deploymentId},
    description="digits",
    data_type="float32",
    label_type="uint8",
    data_reshape="64",
    validation_rate=${s.validationRate ?? 0.1},
    test_rate=${s.testRate ?? 0.1},${control}${pythonSecurityKwargs(s.security)}
)
sink.send_batch(digits.data.astype("float32"), digits.target.astype("uint8"))
sink.close()  # sends the control message: training starts
`;
}

/** kafkaml-send's security flags; the password never goes on the command line. */
function cliSecurityFlags(security: SnippetSecurity | null | undefined): string {
  if (!security) return '';
  let flags = ` \\\n  --security-protocol ${security.protocol}`;
  if (usesSasl(security)) {
    if (security.mechanism) flags += ` --sasl-mechanism ${security.mechanism}`;
    flags += ` --sasl-username ${security.username ?? '<your-kafka-username>'}`;
  }
  return flags;
}

function cliPasswordPrompt(security: SnippetSecurity | null | undefined): string {
  if (!security) return '';
  const ca = usesTls(security) ? "# Add --ssl-ca kafka-ca.pem when the cluster's certificate comes from a private CA.\n" : '';
  if (!usesSasl(security)) return ca;
  return `${ca}# Paste your Kafka password (Account page); it is read from $${PASSWORD_ENV}, not typed on the command line:
read -rs ${PASSWORD_ENV} && export ${PASSWORD_ENV}
`;
}

export function cliSnippet(s: SnippetInput): string {
  const control = hasCustomControlTopic(s.controlTopic) ? ` \\\n  --control-topic ${s.controlTopic}` : '';
  return `${cliPasswordPrompt(s.security)}KAFKA_BOOTSTRAP_SERVERS=${s.bootstrapServers} \\
kafkaml-send --sklearn digits --topic ${s.topic} --deployment-id ${s.deploymentId} \\
  --validation-rate ${s.validationRate ?? 0.1} --test-rate ${s.testRate ?? 0.1}${control}${cliSecurityFlags(s.security)}`;
}

/** librdkafka (confluent_kafka) settings as Python dict entries. */
function librdkafkaSecurity(security: SnippetSecurity | null | undefined): string {
  if (!security) return '';
  let out = `,\n         "security.protocol": ${JSON.stringify(security.protocol)}`;
  if (usesSasl(security)) {
    if (security.mechanism) out += `, "sasl.mechanism": ${JSON.stringify(security.mechanism)}`;
    out += `,\n         "sasl.username": ${JSON.stringify(security.username ?? '<your Kafka username>')}, "sasl.password": os.environ["${PASSWORD_ENV}"]`;
  }
  return out;
}

export interface InferenceSnippetInput {
  bootstrapServers: string;
  inputTopic: string;
  outputTopic: string;
  inputFormat: string;
  inputConfig: Record<string, unknown>;
  /** Consumer groups must start with it too (`alice.`). */
  groupPrefix?: string;
  security?: SnippetSecurity | null;
  /** How long the reader waits for predictions overall (seconds; 60 by default). */
  deadlineSeconds?: number;
  /** The inference's delivery is exactly_once: its outputs must be read with read_committed. */
  exactlyOnce?: boolean;
}

export function inferenceSnippet(opts: InferenceSnippetInput): string {
  const dtype = String(opts.inputConfig.data_type ?? 'float32');
  const needsOs = !!opts.security && usesSasl(opts.security);
  const deadline = opts.deadlineSeconds ?? 60;
  return `import json
${needsOs ? 'import os\n' : ''}import time

import numpy as np
from confluent_kafka import Consumer, KafkaError, Producer
from sklearn.datasets import load_digits

kafka = {"bootstrap.servers": ${JSON.stringify(opts.bootstrapServers)}${librdkafkaSecurity(opts.security)}}
producer = Producer(kafka)
for sample in load_digits().data[:100]:
    # ${opts.inputFormat} record: the sample's bytes (${dtype}, little-endian, C order)
    producer.produce(${JSON.stringify(opts.inputTopic)}, np.asarray(sample, dtype="${dtype}").tobytes())
producer.flush()

# A new consumer group can take tens of seconds to get its first record, and the output topic
# may not exist until the first prediction: keep polling until a deadline, skipping those errors.
consumer = Consumer({**kafka, "group.id": ${JSON.stringify(`${opts.groupPrefix ?? ''}my-reader`)}, "auto.offset.reset": "earliest",
${opts.exactlyOnce ? '                     # exactly-once inference: only outputs of committed transactions, each input once\n                     "isolation.level": "read_committed",\n' : ''}                     "topic.metadata.refresh.interval.ms": 5000})  # notice a new topic within seconds
consumer.subscribe([${JSON.stringify(opts.outputTopic)}])
deadline = time.monotonic() + ${deadline}
received = 0
while received < 100 and time.monotonic() < deadline:
    msg = consumer.poll(1.0)
    if msg is None:
        continue
    if msg.error():
        if msg.error().code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
            continue  # end of the partition, or the output topic is still being created
        raise SystemExit(f"Kafka error: {msg.error()}")
    print(json.loads(msg.value()))
    received += 1
consumer.close()
if not received:
    print("no prediction within ${deadline} s: is the inference running? (see its logs)")
`;
}

/** Turn the text a user typed for fit/evaluate arguments into what the API takes: a JSON object
 *  when it parses as one, else the `epochs=5, shuffle=True` text (the API parses it). */
export function kwargsPayload(text: string): Record<string, unknown> | string {
  const t = text.trim();
  if (!t) return {};
  if (t.startsWith('{')) {
    try {
      const v = JSON.parse(t);
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      /* fall through: let the API explain */
    }
  }
  return t;
}

/** Local check before sending, so obvious slips get a message next to the field at once. */
export function kwargsProblem(text: string): string | null {
  const t = text.trim();
  if (!t) return null;
  if (t.startsWith('{')) {
    try {
      const v = JSON.parse(t);
      if (!v || typeof v !== 'object' || Array.isArray(v)) return 'Give a JSON object, e.g. {"epochs": 5}.';
      return null;
    } catch (err) {
      return `Not valid JSON: ${(err as Error).message}`;
    }
  }
  for (const part of splitTopLevel(t)) {
    if (!part.trim()) continue;
    if (!/^\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*\S/.test(part))
      return `Write name=value pairs separated by commas (problem near “${part.trim().slice(0, 30)}”).`;
  }
  return null;
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let cur = '';
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  parts.push(cur);
  return parts;
}

export function kwargsToText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (!v || typeof v !== 'object') return '';
  const entries = Object.entries(v as Record<string, unknown>);
  if (!entries.length) return '';
  return entries.map(([k, val]) => `${k}=${pyLiteral(val)}`).join(', ');
}

function pyLiteral(v: unknown): string {
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null) return 'None';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(pyLiteral).join(', ')}]`;
  if (typeof v === 'object')
    return `{${Object.entries(v as object)
      .map(([k, x]) => `${JSON.stringify(k)}: ${pyLiteral(x)}`)
      .join(', ')}}`;
  return String(v);
}
