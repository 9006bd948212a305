import type { KMSClient } from '@aws-sdk/client-kms';
import type { Meter } from './meter.js';

/**
 * Counts the KMS client's calls per operation (an SDK middleware at `initialize`: one per call,
 * retries not counted again). The operation is the command's name without `Command`; nothing of
 * the input (key id, context, plaintext) is read.
 */
export function countKmsCalls(client: KMSClient, meter: Pick<Meter, 'kmsCall'>): KMSClient {
  client.middlewareStack.add(
    (next, context) => (args) => {
      meter.kmsCall((context.commandName ?? 'Unknown').replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'eaasKmsCallMetric', override: true },
  );
  return client;
}
