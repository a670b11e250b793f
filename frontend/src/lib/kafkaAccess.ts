// Kafka tenancy in the UI: every user owns the topics (and consumer groups) that start with
// their prefix (`alice.`). The server says which prefix (GET /api/v1/auth/kafka/); until that
// endpoint answers, the prefix is derived here with the server's rule.
import { useAuth } from '../auth';
import { ApiError } from './api';
import { kafkaAccessApi, type KafkaAccess } from './accounts';
import type { User } from './types';
import { useLoad } from '../components/ui';

const MAX_NAME = 64;
const KEEP = /^[A-Za-z0-9-]$/;

/** The user's namespace, as backend/kafkaml/topics/namespace.py writes it: every character
 *  outside [A-Za-z0-9-] becomes `_xx` per UTF-8 byte; too long or empty: `_u<id>`. */
export function namespaceName(username: string, userId: number): string {
  const bytes = new TextEncoder();
  let name = '';
  for (const ch of username) {
    if (KEEP.test(ch)) name += ch;
    else for (const b of bytes.encode(ch)) name += `_${b.toString(16).padStart(2, '0')}`;
  }
  return name && name.length <= MAX_NAME ? name : `_u${userId}`;
}

/** `alice` -> `alice.`: every topic starting with it is the user's. */
export function topicPrefixFor(username: string, userId: number): string {
  return `${namespaceName(username, userId)}.`;
}

/** What the UI assumes when the server has no Kafka access endpoint (older backend). */
export function fallbackKafkaAccess(user: Pick<User, 'id' | 'username' | 'kafka'>): KafkaAccess {
  const prefix = user.kafka?.topic_prefix || topicPrefixFor(user.username, user.id);
  return {
    secured: false,
    bootstrap_servers: user.kafka?.bootstrap_servers || 'localhost:9092',
    security_protocol: 'PLAINTEXT',
    sasl_mechanism: null,
    username: null,
    topic_prefix: prefix,
    group_prefix: prefix,
    control_topic: user.kafka?.control_topic || 'KAFKA_ML_CONTROL_TOPIC',
    has_credentials: false,
    rotated_at: null,
    notice: '',
  };
}

/** Whether a topic name is one the user may use (starts with the prefix, and more after it). */
export function ownsTopic(access: Pick<KafkaAccess, 'topic_prefix'>, topic: string): boolean {
  return topic.startsWith(access.topic_prefix) && topic.length > access.topic_prefix.length;
}

/** `name` inside the user's namespace (unchanged when it already is). */
export function inNamespace(prefix: string, name: string): string {
  return name.startsWith(prefix) ? name : `${prefix}${name}`;
}

// One answer shared by every component of a page (each inference card shows a snippet).
const CACHE_MS = 60_000;
let cache: { userId: number; at: number; answer: Promise<KafkaAccess> } | null = null;

function cachedKafkaAccess(userId: number): Promise<KafkaAccess> {
  if (cache && cache.userId === userId && Date.now() - cache.at < CACHE_MS) return cache.answer;
  const answer = kafkaAccessApi.get();
  const entry = { userId, at: Date.now(), answer };
  cache = entry;
  answer.catch(() => {
    if (cache === entry) cache = null;
  });
  return answer;
}

/** Drop the shared answer (after creating or rotating credentials). */
export function forgetKafkaAccess(): void {
  cache = null;
}

/** The signed-in user's Kafka access; `access` is the derived fallback when the endpoint is
 *  missing (404) or fails, so snippets and forms always have a prefix. */
export function useKafkaAccess() {
  const { user } = useAuth();
  const load = useLoad(async () => {
    if (!user) return null;
    try {
      return { access: await cachedKafkaAccess(user.id), fromServer: true, error: null as unknown };
    } catch (err) {
      const missing = err instanceof ApiError && (err.status === 404 || err.status === 405);
      return { access: fallbackKafkaAccess(user), fromServer: false, error: missing ? null : (err as unknown) };
    }
  }, [user?.id]);
  return {
    access: load.data?.access ?? null,
    fromServer: load.data?.fromServer ?? false,
    error: load.data?.error ?? load.error,
    loading: load.loading,
  };
}
