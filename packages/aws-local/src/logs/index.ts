import { DEFAULT_ACCOUNT_ID, DEFAULT_HOST, DEFAULT_MAX_SKEW_SECONDS, DEFAULT_REGION } from '../defaults.js';
import { listen } from '../http-server.js';
import type { LocalIdentities } from '../identity.js';
import { createLogsServer, type LogsServerOptions } from './server.js';
import { LogStore } from './store.js';

export interface LocalLogs {
  /** `http://host:port` to give `@aws-sdk/client-cloudwatch-logs` or `aws logs --endpoint-url`. */
  readonly endpoint: string;
  readonly store: LogStore;
  close(): Promise<void>;
}

export interface LocalLogsOptions {
  /** Folder of the log groups (`logs/`); created when missing. */
  dataDir: string;
  /** Who may sign requests: `kms.identities`, or `LocalIdentities.open(dataDir, accountId, region)`. */
  identities: LocalIdentities;
  /** Log groups created on start when missing, as a template's AWS::Logs::LogGroup resources would be. */
  logGroups?: readonly { name: string; retentionInDays?: number; kmsKeyId?: string }[];
  accountId?: string;
  region?: string;
  host?: string;
  port?: number;
  maxSkewSeconds?: number;
  now?: () => Date;
  onRequest?: LogsServerOptions['onRequest'];
}

/** Starts the local CloudWatch Logs on a loopback address. */
export async function startLocalLogs(options: LocalLogsOptions): Promise<LocalLogs> {
  const now = options.now ?? (() => new Date());
  const store = new LogStore(
    options.dataDir,
    options.accountId ?? DEFAULT_ACCOUNT_ID,
    options.region ?? DEFAULT_REGION,
  );
  for (const g of options.logGroups ?? []) {
    if (!store.hasGroup(g.name))
      store.createGroup(g.name, now().getTime(), {
        ...(g.retentionInDays ? { retentionInDays: g.retentionInDays } : {}),
        ...(g.kmsKeyId ? { kmsKeyId: g.kmsKeyId } : {}),
      });
  }
  const server = createLogsServer({
    store,
    identities: options.identities,
    region: options.region ?? DEFAULT_REGION,
    maxSkewSeconds: options.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS,
    now,
    ...(options.onRequest ? { onRequest: options.onRequest } : {}),
  });
  server.keepAliveTimeout = 5000;
  const listening = await listen(server, options.host ?? DEFAULT_HOST, options.port ?? 0);
  return { endpoint: listening.endpoint, store, close: listening.close };
}
