import { useState } from 'react';
import type { KafkaAccess } from '../lib/accounts';
import { useKafkaAccess } from '../lib/kafkaAccess';
import { cliSnippet, defaultTopic, pythonSnippet, snippetSecurity, usesSasl } from '../lib/snippets';
import KafkaAccessNotice from './KafkaNotice';
import { CopyBlock, Loading } from './ui';

/** How to send training data to a deployment: Python with the library, or the CLI. */
export function SendDataView({ deploymentId, access }: { deploymentId: number; access: KafkaAccess }) {
  const [tab, setTab] = useState<'python' | 'cli'>('python');
  const security = snippetSecurity(access);
  const input = {
    deploymentId,
    topic: defaultTopic(deploymentId, access.topic_prefix),
    bootstrapServers: access.bootstrap_servers || 'localhost:9092',
    controlTopic: access.control_topic,
    security,
  };
  return (
    <div data-testid="send-data">
      <KafkaAccessNotice access={access} />
      <p>
        Training waits for data. Send samples to topic <code>{input.topic}</code> tagged with deployment <code>{deploymentId}</code>; when
        the sink closes it announces the stream and training starts.{' '}
        {!access.bootstrap_servers && (
          <span className="muted">
            (Use your broker's address if it is not <code>localhost:9092</code>.)
          </span>
        )}
      </p>
      <p className="muted small">
        Your topics start with <code>{access.topic_prefix}</code>: a stream announced on any other topic is refused and nothing trains.
        {security && usesSasl(security) && (
          <>
            {' '}
            The snippets read your Kafka password from <code>$KAFKA_SASL_PASSWORD</code>; create or rotate it on the Account page.
          </>
        )}
      </p>
      <div className="tabs" role="tablist">
        <button
          type="button"
          role="tab"
          aria-selected={tab === 'python'}
          className={tab === 'python' ? 'on' : ''}
          onClick={() => setTab('python')}
        >
          Python
        </button>
        <button type="button" role="tab" aria-selected={tab === 'cli'} className={tab === 'cli' ? 'on' : ''} onClick={() => setTab('cli')}>
          Command line
        </button>
      </div>
      <CopyBlock text={tab === 'python' ? pythonSnippet(input) : cliSnippet(input)} label="Send data snippet" />
      {!security && (
        <p className="muted small">
          The embedded broker keeps topics in memory: data sent before a restart of <code>kafkaml up</code> is gone.
        </p>
      )}
    </div>
  );
}

export default function SendData({ deploymentId }: { deploymentId: number }) {
  const kafka = useKafkaAccess();
  if (!kafka.access) return <Loading what="your Kafka settings" />;
  return <SendDataView deploymentId={deploymentId} access={kafka.access} />;
}
