import type { KafkaAccess } from '../lib/accounts';

/** On the embedded broker: says plainly that Kafka has no authentication here. */
export default function UnsecuredBrokerNotice({ access, compact = false }: { access: Pick<KafkaAccess, 'secured' | 'notice'> | null; compact?: boolean }) {
  if (!access || access.secured || !access.notice) return null;
  return (
    <div className={`alert warn${compact ? ' small' : ''}`} role="note" data-testid="kafka-unsecured-notice">
      <strong>Not a security boundary.</strong> {access.notice}
    </div>
  );
}
