import { describe, expect, it } from 'vitest';
import {
  cliSnippet,
  defaultTopic,
  inferenceSnippet,
  kwargsPayload,
  kwargsProblem,
  kwargsToText,
  pythonSnippet,
  snippetSecurity,
} from './snippets';
import { fallbackKafkaAccess, inNamespace, ownsTopic, topicPrefixFor } from './kafkaAccess';
import { templatesFor } from './templates';
import { epochCharts, mergeEpoch, confusion } from './metrics';
import { pickItems } from './chains';
import type { MLModel } from './types';

describe('send-data snippets', () => {
  it('fills in deployment id, topic and servers', () => {
    const s = { deploymentId: 7, topic: 'kafkaml-train-7', bootstrapServers: 'localhost:9190' };
    expect(pythonSnippet(s)).toContain('deployment_id=7');
    expect(pythonSnippet(s)).toContain('topic="kafkaml-train-7"');
    expect(pythonSnippet(s)).toContain('bootstrap_servers="localhost:9190"');
    expect(cliSnippet(s)).toContain('--deployment-id 7');
  });
});

const securedAccess = {
  secured: true,
  security_protocol: 'SASL_SSL',
  sasl_mechanism: 'SCRAM-SHA-512',
  username: 'user.alice',
};
const embeddedAccess = { secured: false, security_protocol: 'PLAINTEXT', sasl_mechanism: null, username: null };

describe("snippets in the user's namespace", () => {
  it('puts the training topic under the prefix', () => {
    expect(defaultTopic(7, 'alice.')).toBe('alice.train-7');
    expect(defaultTopic(7)).toBe('kafkaml-train-7');
  });

  it('adds no security settings on the embedded broker', () => {
    expect(snippetSecurity(embeddedAccess)).toBeNull();
    const s = { deploymentId: 7, topic: 'alice.train-7', bootstrapServers: 'localhost:9190', security: snippetSecurity(embeddedAccess) };
    for (const text of [pythonSnippet(s), cliSnippet(s)]) {
      expect(text).toContain('alice.train-7');
      expect(text).not.toMatch(/security|sasl|KAFKA_SASL_PASSWORD/i);
    }
  });

  it('sets protocol, mechanism and username, and reads the password from the environment, when secured', () => {
    const security = snippetSecurity(securedAccess);
    expect(security).toEqual({ protocol: 'SASL_SSL', mechanism: 'SCRAM-SHA-512', username: 'user.alice' });
    const s = { deploymentId: 7, topic: 'alice.train-7', bootstrapServers: 'kafka.example.org:9093', security };
    const py = pythonSnippet(s);
    expect(py).toMatch(/^import os\n/);
    expect(py).toContain('security_protocol="SASL_SSL",');
    expect(py).toContain('sasl_mechanism="SCRAM-SHA-512",');
    expect(py).toContain('sasl_plain_username="user.alice",');
    expect(py).toContain('sasl_plain_password=os.environ["KAFKA_SASL_PASSWORD"],');
    const cli = cliSnippet(s);
    expect(cli).toContain('--security-protocol SASL_SSL --sasl-mechanism SCRAM-SHA-512 --sasl-username user.alice');
    expect(cli).toContain('read -rs KAFKA_SASL_PASSWORD && export KAFKA_SASL_PASSWORD');
    expect(cli).not.toMatch(/--sasl-password/);
    // Every continued line ends with a backslash: the command stays one command.
    const command = cli.slice(cli.indexOf('KAFKA_BOOTSTRAP_SERVERS'));
    expect(
      command
        .split('\n')
        .slice(0, -1)
        .every((l) => l.endsWith(' \\')),
    ).toBe(true);
  });

  it('SASL_PLAINTEXT is secured too; SSL alone needs no password', () => {
    const plain = snippetSecurity({ ...securedAccess, security_protocol: 'SASL_PLAINTEXT', sasl_mechanism: 'PLAIN' });
    const plainText = pythonSnippet({ deploymentId: 1, topic: 'alice.t', bootstrapServers: 'k:9092', security: plain });
    expect(plainText).toContain('security_protocol="SASL_PLAINTEXT"');
    expect(plainText).not.toContain('ssl_cafile');
    expect(
      pythonSnippet({ deploymentId: 1, topic: 'alice.t', bootstrapServers: 'k:9093', security: snippetSecurity(securedAccess) }),
    ).toContain('# ssl_cafile="kafka-ca.pem"');
    const ssl = snippetSecurity({ ...securedAccess, security_protocol: 'SSL', sasl_mechanism: null });
    const py = pythonSnippet({ deploymentId: 1, topic: 'alice.t', bootstrapServers: 'k:9093', security: ssl });
    expect(py).toContain('security_protocol="SSL"');
    expect(py).not.toContain('sasl');
  });

  it('the inference snippet reads with a consumer group under the prefix', () => {
    const base = {
      bootstrapServers: 'k:9093',
      inputTopic: 'alice.m-in',
      outputTopic: 'alice.m-out',
      inputFormat: 'RAW',
      inputConfig: {},
      groupPrefix: 'alice.',
    };
    expect(inferenceSnippet(base)).toContain('"group.id": "alice.my-reader"');
    expect(inferenceSnippet(base)).not.toContain('sasl');
    const secured = inferenceSnippet({ ...base, security: snippetSecurity(securedAccess) });
    expect(secured).toContain('"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"');
    expect(secured).toContain('"sasl.username": "user.alice", "sasl.password": os.environ["KAFKA_SASL_PASSWORD"]');
  });
});

describe('inference snippet reads predictions robustly', () => {
  const base = {
    bootstrapServers: 'localhost:9190',
    inputTopic: 'alice.m-in',
    outputTopic: 'alice.m-out',
    inputFormat: 'RAW',
    inputConfig: { data_type: 'float32' },
  };
  it('polls in a loop until an overall deadline, not once', () => {
    const py = inferenceSnippet(base);
    expect(py).toContain('deadline = time.monotonic() + 60');
    expect(py).toMatch(/while received < 100 and time\.monotonic\(\) < deadline:\n {4}msg = consumer\.poll\(1\.0\)/);
    expect(py).not.toContain('consumer.poll(10)');
    expect(inferenceSnippet({ ...base, deadlineSeconds: 5 })).toContain('deadline = time.monotonic() + 5');
  });
  it('checks msg.error() before decoding, skipping partition EOF and a topic still being created', () => {
    const py = inferenceSnippet(base);
    const errorCheck = py.indexOf('if msg.error():');
    expect(errorCheck).toBeGreaterThan(0);
    expect(errorCheck).toBeLessThan(py.indexOf('json.loads(msg.value())'));
    expect(py).toContain('KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART');
    expect(py).toContain('from confluent_kafka import Consumer, KafkaError, Producer');
    expect(py).toContain('"topic.metadata.refresh.interval.ms": 5000');
    expect(py).toMatch(/^import json\nimport time\n/);
  });
});

describe('topic prefix', () => {
  it('derives the prefix the way the server does', () => {
    expect(topicPrefixFor('alice', 1)).toBe('alice.');
    expect(topicPrefixFor('a.b', 1)).toBe('a_2eb.');
    expect(topicPrefixFor('bob@x.org', 1)).toBe('bob_40x_2eorg.');
    expect(topicPrefixFor('josé', 1)).toBe('jos_c3_a9.');
    expect(topicPrefixFor('x'.repeat(65), 42)).toBe('_u42.');
  });
  it('checks and builds names inside the namespace', () => {
    const access = fallbackKafkaAccess({ id: 1, username: 'alice', kafka: { bootstrap_servers: 'localhost:9190' } });
    expect(access).toMatchObject({ secured: false, topic_prefix: 'alice.', bootstrap_servers: 'localhost:9190' });
    expect(ownsTopic(access, 'alice.digits')).toBe(true);
    expect(ownsTopic(access, 'alice.')).toBe(false);
    expect(ownsTopic(access, 'bob.digits')).toBe(false);
    expect(inNamespace('alice.', 'digits')).toBe('alice.digits');
    expect(inNamespace('alice.', 'alice.digits')).toBe('alice.digits');
  });
  it('takes the prefix /auth/me/ reports over the derived one', () => {
    expect(fallbackKafkaAccess({ id: 3, username: 'a.b', kafka: { topic_prefix: 'a_2eb.' } }).topic_prefix).toBe('a_2eb.');
    expect(fallbackKafkaAccess({ id: 3, username: 'x'.repeat(70) }).topic_prefix).toBe('_u3.');
  });
});

describe('kwargs', () => {
  it('passes text through and parses JSON objects', () => {
    expect(kwargsPayload('epochs=5, shuffle=True')).toBe('epochs=5, shuffle=True');
    expect(kwargsPayload('{"epochs": 5}')).toEqual({ epochs: 5 });
    expect(kwargsPayload('  ')).toEqual({});
  });
  it('flags obvious slips', () => {
    expect(kwargsProblem('epochs=5, shuffle=True')).toBeNull();
    expect(kwargsProblem('epochs=5, callbacks=[1, 2]')).toBeNull();
    expect(kwargsProblem('epochs 5')).toMatch(/name=value/);
    expect(kwargsProblem('{"epochs": }')).toMatch(/JSON/);
    expect(kwargsProblem('[1]')).toMatch(/name=value/);
  });
  it('shows stored kwargs as text', () => {
    expect(kwargsToText({ epochs: 5, shuffle: true, name: 'a' })).toBe('epochs=5, shuffle=True, name="a"');
  });
});

describe('templates', () => {
  it('reads the list the API answers', () => {
    const data = [
      { name: 'keras-mnist', title: 'Keras MNIST', framework: 'tensorflow', imports: 'import tensorflow as tf', code: 'model = 1' },
      { name: 'torch', framework: 'pytorch', imports: '', code: 'x' },
    ];
    expect(templatesFor(data, 'tensorflow')).toEqual([
      { name: 'Keras MNIST', imports: 'import tensorflow as tf', code: 'model = 1', description: undefined },
    ]);
    expect(templatesFor(data, 'pytorch')).toHaveLength(1);
  });
  it('reads a per-framework object', () => {
    expect(templatesFor({ tensorflow: { imports: 'a', code: 'b' } }, 'tensorflow')[0].code).toBe('b');
  });
});

describe('epoch charts', () => {
  it('pairs a metric with its validation twin', () => {
    const charts = epochCharts([
      { epoch: 2, loss: 0.5, val_loss: 0.6, accuracy: 0.8 },
      { epoch: 1, loss: 1, val_loss: 1.1, accuracy: 0.5 },
    ]);
    expect(charts.map((c) => c.name)).toEqual(['loss', 'accuracy']);
    expect(charts[0].x).toEqual([1, 2]);
    expect(charts[0].series.map((s) => s.label)).toEqual(['train loss', 'validation loss']);
    expect(charts[0].series[1].values).toEqual([1.1, 0.6]);
  });
  it('merges a pushed epoch', () => {
    expect(mergeEpoch([{ epoch: 1, loss: 1 }], { epoch: 1, loss: 0.9 })).toEqual([{ epoch: 1, loss: 0.9 }]);
    expect(mergeEpoch([{ epoch: 1 }], { epoch: 2 }).map((e) => e.epoch)).toEqual([1, 2]);
  });
  it('reads confusion matrices', () => {
    expect(
      confusion([
        [1, 2],
        [3, 4],
      ])?.matrix,
    ).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(confusion({ matrix: [[1]], labels: ['a'] })?.labels).toEqual(['a']);
    expect(confusion(null)).toBeNull();
  });
});

describe('configuration picker', () => {
  const m = (id: number, extra: Partial<MLModel> = {}) =>
    ({ id, name: `m${id}`, framework: 'tensorflow', distributed: false, upper_model: null, ...extra }) as MLModel;
  it('shows a distributed chain as one item', () => {
    const items = pickItems([
      m(1),
      m(2, { distributed: true }),
      m(3, { distributed: true, upper_model: 2 }),
      m(4, { distributed: true, upper_model: 3 }),
    ]);
    expect(items).toHaveLength(2);
    const chain = items.find((i) => i.members.length === 3)!;
    expect(chain.label).toBe('Chain: m4 → m3 → m2');
    expect(chain.id).toBe(4);
  });
});
