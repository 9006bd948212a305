/**
 * What the service measures, as a port: handlers and the composition root record through it, the
 * Powertools adapter (`metrics.ts`) writes CloudWatch embedded metric format lines to stdout.
 * Every dimension is a bounded, non-secret name: a route template (never the path), a status
 * class, a KMS operation, the function. No body, key material, encryption context or object name.
 */
export interface Meter {
  /** One API request: its route template (`POST /v1/encrypt`), HTTP status and latency. */
  request(route: string, status: number, latencyMs: number): void;
  /** One KMS API call by its operation name (`Encrypt`, `GenerateDataKey`). */
  kmsCall(operation: string): void;
  /** Plaintext bytes of a document the seal wrote into the vault. */
  bytesSealed(bytes: number): void;
  /** Documents whose data key the re-encryption worker re-wrapped. */
  objectsRewrapped(count: number): void;
  /** Age of the oldest pending upload the sweep saw, in seconds (0 when none). */
  oldestPendingUpload(ageSeconds: number): void;
}

/** `2xx`, `4xx`, `5xx`: the status dimension (a status code would split the alarms). */
export function statusClassOf(status: number): string {
  return `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx`;
}

/** Metric names, as CloudWatch shows them under the namespace (POWERTOOLS_METRICS_NAMESPACE). */
export const METRIC = {
  requests: 'Requests',
  errors: 'Errors',
  latency: 'Latency',
  kmsCalls: 'KmsCalls',
  bytesSealed: 'BytesSealed',
  objectsRewrapped: 'ObjectsRewrapped',
  oldestPendingUploadAge: 'OldestPendingUploadAge',
} as const;

/** A meter that records nothing (the local stack, benchmarks). */
export const NO_METER: Meter = {
  request: () => undefined,
  kmsCall: () => undefined,
  bytesSealed: () => undefined,
  objectsRewrapped: () => undefined,
  oldestPendingUpload: () => undefined,
};
