import { useState } from 'react';
import { useAuth } from '../auth';
import { cliSnippet, defaultTopic, pythonSnippet } from '../lib/snippets';
import { CopyBlock } from './ui';

/** How to send training data to a deployment: Python with the library, or the CLI. */
export default function SendData({ deploymentId }: { deploymentId: number }) {
  const { user } = useAuth();
  const [tab, setTab] = useState<'python' | 'cli'>('python');
  const input = {
    deploymentId,
    topic: defaultTopic(deploymentId),
    bootstrapServers: user?.kafka?.bootstrap_servers || 'localhost:9092',
    controlTopic: user?.kafka?.control_topic,
  };
  return (
    <div data-testid="send-data">
      <p>
        Training waits for data. Send samples to topic <code>{input.topic}</code> tagged with deployment <code>{deploymentId}</code>; when the sink closes it
        announces the stream and training starts. {!user?.kafka?.bootstrap_servers && <span className="muted">(Use your broker's address if it is not <code>localhost:9092</code>.)</span>}
      </p>
      <div className="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={tab === 'python'} className={tab === 'python' ? 'on' : ''} onClick={() => setTab('python')}>Python</button>
        <button type="button" role="tab" aria-selected={tab === 'cli'} className={tab === 'cli' ? 'on' : ''} onClick={() => setTab('cli')}>Command line</button>
      </div>
      <CopyBlock text={tab === 'python' ? pythonSnippet(input) : cliSnippet(input)} label="Send data snippet" />
      <p className="muted small">The embedded broker keeps topics in memory: data sent before a restart of <code>kafkaml up</code> is gone.</p>
    </div>
  );
}
