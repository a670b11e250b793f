import type { KafkaAccess } from '../lib/accounts';

type NoticeAccess = Pick<KafkaAccess, 'secured' | 'notice' | 'security_protocol'>;

/** The server's word on how safe Kafka is here. Without credentials (the embedded broker) it
 *  is a warning: Kafka itself checks nobody. With credentials it is what they allow, shown only
 *  where asked (`showSecured`: the Account page). */
export default function KafkaAccessNotice({ access, showSecured = false }: { access: NoticeAccess | null; showSecured?: boolean }) {
  if (!access?.notice) return null;
  if (access.secured) {
    if (!showSecured) return null;
    return (
      <div className="alert info small" role="note" data-testid="kafka-secured-notice">
        {access.notice}
      </div>
    );
  }
  const plaintext = !access.security_protocol || access.security_protocol.toUpperCase() === 'PLAINTEXT';
  return (
    <div className="alert warn" role="note" data-testid="kafka-unsecured-notice">
      {plaintext && <strong>Not a security boundary. </strong>}
      {access.notice}
    </div>
  );
}
