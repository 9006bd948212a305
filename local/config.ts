import { type Config, readConfig } from '../src/config.js';
import { Settings } from '../src/settings.js';

/**
 * The local stack's own settings (development only): where it listens, where it keeps its state,
 * its timers. The Lambda functions never read these; the service's settings are `Config`.
 */
export interface LocalConfig {
  /** Folder for the local stack's state: key store, credentials, audit log. */
  readonly dataDir: string;
  /** Address every local server binds to; loopback only. */
  readonly host: '127.0.0.1' | 'localhost' | '::1';
  /** Port of the local KMS. */
  readonly kmsPort: number;
  /** Port of the local API gateway. */
  readonly apiPort: number;
  /** Port of the local S3. */
  readonly s3Port: number;
  /** Port of the local CloudWatch Logs (the audit log group). */
  readonly logsPort: number;
  /** Port of the local S3 Control (S3 Batch Operations jobs). */
  readonly s3ControlPort: number;
  /** Local S3 Batch Operations: function invocations in flight per job. */
  readonly batchConcurrency: number;
  /** Milliseconds the local S3 and KMS wait before each request, like AWS's network time; 0: none. */
  readonly localLatencyMs: number;
  /** Port of the local Cognito user pool (managed login, cognito-idp). */
  readonly userPoolPort: number;
  /** Port of the local Cognito identity pool (cognito-identity). */
  readonly identityPoolPort: number;
  /** Root key that wraps local key material at rest; generated into the data dir when absent. */
  readonly rootKey: Buffer | undefined;
  /** Largest clock difference a SigV4 signature may have, in seconds. */
  readonly sigv4MaxSkewSeconds: number;
  /** Interval of the sweep of pending uploads, in seconds; 0 for none (the seal's schedule in AWS). */
  readonly sweepSeconds: number;
  /** Re-encryption jobs: the timer's period, in seconds (the EventBridge schedule's rate); 0 for none. */
  readonly rewrapTickSeconds: number;
  /** Local gateway: bound on request body bytes held at once across all requests in flight. */
  readonly gatewayBodyBytesInFlight: number;
}

/** Everything the local stack reads: the service's settings and its own. */
export type StackConfig = Config & LocalConfig;

/** The environment variable that sets each port, for messages that tell which one to change. */
export const PORT_SETTINGS = {
  kmsPort: 'EAAS_KMS_PORT',
  apiPort: 'EAAS_API_PORT',
  s3Port: 'EAAS_S3_PORT',
  logsPort: 'EAAS_LOGS_PORT',
  s3ControlPort: 'EAAS_S3CONTROL_PORT',
  userPoolPort: 'EAAS_USER_POOL_PORT',
  identityPoolPort: 'EAAS_IDENTITY_POOL_PORT',
} as const satisfies Partial<Record<keyof LocalConfig, string>>;

function readLocalConfig(s: Settings): LocalConfig {
  const rootKey = s.optional('EAAS_ROOT_KEY', (v) =>
    Buffer.from(v, 'base64').length === 32 ? undefined : 'must be the base64 of 32 random bytes',
  );
  return {
    dataDir: s.text('EAAS_DATA_DIR', '.eaas', (v) => (v === '' ? 'must not be empty' : undefined)),
    host: s.oneOf('EAAS_HOST', ['127.0.0.1', 'localhost', '::1'], '127.0.0.1'),
    kmsPort: s.int(PORT_SETTINGS.kmsPort, 1, 65535, 4599),
    apiPort: s.int(PORT_SETTINGS.apiPort, 1, 65535, 3000),
    s3Port: s.int(PORT_SETTINGS.s3Port, 1, 65535, 4569),
    logsPort: s.int(PORT_SETTINGS.logsPort, 1, 65535, 4586),
    s3ControlPort: s.int(PORT_SETTINGS.s3ControlPort, 1, 65535, 4570),
    batchConcurrency: s.int('EAAS_BATCH_CONCURRENCY', 1, 1000, 16),
    localLatencyMs: s.int('EAAS_LOCAL_LATENCY_MS', 0, 10_000, 0),
    userPoolPort: s.int(PORT_SETTINGS.userPoolPort, 1, 65535, 9229),
    identityPoolPort: s.int(PORT_SETTINGS.identityPoolPort, 1, 65535, 9230),
    rootKey: rootKey === undefined ? undefined : Buffer.from(rootKey, 'base64'),
    sigv4MaxSkewSeconds: s.int('EAAS_SIGV4_MAX_SKEW_SECONDS', 1, 3600, 300),
    sweepSeconds: s.int('EAAS_SWEEP_SECONDS', 0, 86400, 60),
    rewrapTickSeconds: s.int('EAAS_REWRAP_TICK_SECONDS', 0, 86400, 300),
    // From one Lambda payload (6 MiB) to 1 GiB.
    gatewayBodyBytesInFlight: s.int(
      'EAAS_GATEWAY_BODY_BYTES_IN_FLIGHT',
      6 * 1024 ** 2,
      1024 ** 3,
      64 * 1024 ** 2,
    ),
  };
}

/** Parses and freezes the local stack's configuration; a bad value fails here, naming the variable. */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const settings = new Settings(env);
  const config = { ...readConfig(settings), ...readLocalConfig(settings) };
  settings.done();
  return Object.freeze(config);
}
