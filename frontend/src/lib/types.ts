export type Framework = 'tensorflow' | 'pytorch';

export interface User {
  /** false (and nothing else) when /auth/me/ is asked without a session */
  authenticated?: boolean;
  id: number;
  username: string;
  is_staff: boolean;
  kafka?: { bootstrap_servers?: string; control_topic?: string; topic_prefix?: string };
  /** The platform could not establish its sandbox: one user only (see docs/security.md). */
  single_user_mode?: boolean;
}

export interface MLModel {
  id: number;
  name: string;
  description: string;
  imports: string;
  code: string;
  framework: Framework;
  distributed: boolean;
  upper_model: number | null;
  validation_status: 'valid' | 'invalid' | string;
  summary: ModelSummary | Record<string, never>;
  input_shape: unknown;
  output_shape: unknown;
  configurations: number[];
  deletable: boolean;
  delete_blockers: string[];
  /** the current code version (editing the code of a model that has results adds the next one) */
  version?: number | null;
  created_at: string;
  updated_at: string;
}

export interface ModelSummary {
  layers?: { name?: string; type?: string; output_shape?: unknown; params?: number; class_name?: string }[];
  total_params?: number;
  trainable_params?: number;
  non_trainable_params?: number;
  input_shape?: unknown;
  output_shape?: unknown;
  input_shapes?: unknown;
  output_shapes?: unknown;
  text?: string;
  summary?: string;
  [key: string]: unknown;
}

export interface ValidationError {
  type?: string;
  message?: string;
  line?: number | null;
  section?: 'imports' | 'code' | string;
  traceback?: string;
  column?: number | null;
  source_line?: string;
  kind?: string;
  trace?: { section?: string; line?: number; column?: number; function?: string; source_line?: string }[];
}

export interface Configuration {
  id: number;
  name: string;
  description: string;
  models: number[];
  model_names: string[];
  deletable: boolean;
  created_at: string;
}

export interface ResultBrief {
  id: number;
  model: number;
  model_name: string;
  status: ResultStatus;
  chain_leader: number | null;
}

export type ResultStatus = 'created' | 'deployed' | 'finished' | 'stopped' | 'failed';

export interface Deployment {
  id: number;
  configuration: number;
  configuration_name: string;
  batch_size: number;
  training_kwargs: Record<string, unknown> | string;
  evaluation_kwargs: Record<string, unknown> | string;
  confusion_matrix: boolean;
  optimizer: string;
  learning_rate: number;
  loss: string;
  metrics: string;
  incremental: boolean;
  stream_timeout: number;
  monitored_metric: string;
  improvement: number;
  window_size: number;
  incremental_mode?: 'indefinite' | 'time_limited';
  change?: 'auto' | 'up' | 'down';
  unsupervised_rounds?: number;
  confidence_threshold?: number;
  gpus: number;
  datasource: number | null;
  results: ResultBrief[];
  created_at: string;
}

export interface EpochMetrics {
  epoch: number;
  metrics?: Record<string, number>;
  [key: string]: unknown;
}

export interface Artifact {
  version: number;
  metadata: Record<string, unknown>;
  metrics: Record<string, unknown>;
  created_at: string;
}

export interface TrainingResult {
  id: number;
  deployment: number;
  model: number;
  model_name: string;
  framework: Framework;
  chain_leader: number | null;
  status: ResultStatus;
  status_history: { status: string; at: string; [k: string]: unknown }[];
  epoch_metrics: EpochMetrics[];
  train_metrics: Record<string, number>;
  val_metrics: Record<string, number>;
  test_metrics: Record<string, number>;
  confusion_matrix: number[][] | { matrix?: number[][]; labels?: (string | number)[] } | null;
  training_time: number | null;
  seed: number | null;
  error: string;
  log_tail: string;
  artifacts: Artifact[];
  /** the number of the model version it trained with (null for results older than versions) */
  model_version?: number | null;
  tags?: string[];
  note?: string;
  provenance?: Provenance;
  /** semi-supervised rounds of the latest version (empty for an ordinary run) */
  pseudo_labelling?: PseudoLabellingRound[];
  /** a federated result's sites, from its latest version (null for an ordinary run) */
  federation?: Federation | null;
  created_at: string;
  updated_at: string;
}

/** One semi-supervised round: samples pseudo-labelled in it, accuracy after it (validation
 * accuracy when there is a validation split). */
export interface PseudoLabellingRound {
  round: number;
  pseudo_labelled: number;
  accuracy: number | null;
  metrics: Record<string, number>;
}

/** A federated result's sites (GET /results/<id>/ → federation): those that took part with
 * the samples each announced, those refused and why, those that qualified after the join
 * (late), those dropped with the round they missed, and per round (1-based) what each site
 * that answered trained on (0: an online site without new records, the round skipped). */
export interface Federation {
  strategy: string;
  rounds: number | null;
  sites: { site: string; samples: number | null }[];
  refused: { site: string; reason: string }[];
  late: { site: string; samples: number | null }[];
  dropped: { site: string; round: number }[];
  round_samples: { round: number; samples: Record<string, number> }[];
}

/** What a result trained with (GET /results/<id>/ → provenance). */
export interface Provenance {
  model_version: { number: number; framework: Framework; imports: string; code: string; created_at: string } | null;
  datasource: Datasource | null;
  settings: Record<string, unknown>;
  seed: number | null;
}

/** A row of the runs table (GET /api/v1/runs/). */
export interface Run {
  id: number;
  deployment: number;
  model: number;
  model_name: string;
  model_version: number | null;
  framework: Framework;
  chain_leader: number | null;
  status: ResultStatus;
  tags: string[];
  note: string;
  batch_size: number;
  epochs: number | null;
  epochs_reported: number;
  optimizer: string;
  learning_rate: number;
  test_accuracy: number | null;
  test_loss: number | null;
  val_accuracy: number | null;
  val_loss: number | null;
  test_metrics: Record<string, number>;
  training_time: number | null;
  seed: number | null;
  created_at: string;
}

/** One point of an inference's serving history (GET /inferences/<id>/metrics-history/). */
export interface MetricsPoint {
  at: string;
  records_in_per_s: number;
  records_out_per_s: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  lag: number;
  errors: number;
  replicas_reporting: number;
}

export interface Datasource {
  id: number;
  deployment: number | null;
  deployment_key: number;
  topic: string;
  input_format: 'RAW' | 'AVRO' | 'JSON' | string;
  input_config: Record<string, unknown>;
  description: string;
  validation_rate: number;
  test_rate: number;
  total_msg: number | null;
  incremental: boolean;
  unsupervised_topic: string | null;
  dataset_restrictions: unknown;
  created_at: string;
}

export interface LiveMetrics {
  replicas_reporting: number;
  records_in_per_s: number;
  records_out_per_s: number;
  records_in: number;
  records_out: number;
  errors: number;
  lag: number;
  batch_size_avg: number;
  latency_ms: { p50: number; p95: number; p99: number };
}

export type InferenceStatus = 'created' | 'running' | 'stopped' | 'failed';

export interface Inference {
  id: number;
  result: number;
  serving_result: number;
  model_name: string;
  model_version: number;
  replicas: number;
  input_format: string;
  input_config: Record<string, unknown>;
  input_topic: string;
  output_topic: string;
  upper_topic: string;
  limit: number | null;
  batch_size: number;
  max_wait_ms: number;
  runtime: string;
  status: InferenceStatus;
  status_history: { status: string; at: string }[];
  error: string;
  swap_history: unknown[];
  live: LiveMetrics;
  created_at: string;
}

export interface Templates {
  [framework: string]: { imports: string; code: string; [k: string]: unknown } | unknown;
}

/** A control message for a deployment that the platform refused (e.g. it announced a topic
 *  outside the user's prefix): GET /api/v1/deployments/<id>/control-errors/. */
export interface ControlError {
  id: number;
  error: string;
  control_topic: string;
  control_partition: number | null;
  control_offset: number | null;
  created_at: string;
}
