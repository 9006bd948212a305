import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KEY_MANAGER, KEY_USER, SERVICE } from '@eaas/aws-local';
import { loadStackConfig } from './config.js';
import { DEFAULT_KEY_ALIAS } from './emulator-options.js';
import { SEED_PERSON } from './sign-in.js';
import { startStack } from './stack.js';

/** `npm start`: the local stack on loopback, until Ctrl-C. */
async function main(): Promise<void> {
  const config = loadStackConfig();
  const stack = await startStack(config);
  const dataDir = resolve(config.dataDir);
  const api = stack.gateway.endpoint;
  // The `eaas` command line's config file for this stack (endpoint and region; credentials are the profiles').
  const cliConfig = join(dataDir, 'cli.json');
  writeFileSync(cliConfig, `${JSON.stringify({ endpoint: api, region: config.region }, null, 2)}\n`);
  console.log(
    [
      'eaas local stack is up',
      `  API      ${api}   (SigV4, service execute-api, region ${config.region})`,
      `  KMS      ${stack.kms.endpoint}   (account ${config.accountId})`,
      `  S3       ${stack.s3.endpoint}   (path-style; buckets ${config.vaultBucket}, ${config.stagingBucket})`,
      `  Logs     ${stack.logs.endpoint}   (CloudWatch Logs; audit log group ${stack.auditLogGroup})`,
      `  Batch    ${stack.s3Control.endpoint}   (S3 Control: S3 Batch Operations jobs; see docs/local-stack.md)`,
      `  sign-in  ${stack.userPool.endpoint}   (Cognito user pool ${stack.userPool.userPoolId}, app client ${stack.userPool.clientId})`,
      `  identity ${stack.identityPool.endpoint}   (Cognito identity pool ${stack.identityPool.identityPoolId}, role ${stack.peopleRole.name})`,
      `  data     ${dataDir}   (audit log: ${stack.auditLog})`,
      `  profiles ${KEY_MANAGER} (administers ${DEFAULT_KEY_ALIAS}), ${KEY_USER} (uses it), ${SERVICE} (the service)`,
      '',
      '  try:',
      `    export AWS_SHARED_CREDENTIALS_FILE=${dataDir}/credentials AWS_CONFIG_FILE=${dataDir}/config`,
      `    aws --profile ${KEY_USER} --endpoint-url ${stack.kms.endpoint} kms encrypt --key-id ${DEFAULT_KEY_ALIAS} --plaintext fileb://secret.txt`,
      `    aws --profile ${KEY_USER} --endpoint-url ${stack.s3.endpoint} s3 ls s3://${config.stagingBucket}`,
      `    curl --aws-sigv4 "aws:amz:${config.region}:execute-api" --user "$KEY:$SECRET" -H 'content-type: application/json' \\`,
      `      -d '{"keyId":"${DEFAULT_KEY_ALIAS}","plaintext":"aGVsbG8="}' ${api}/v1/encrypt`,
      `    EAAS_CONFIG=${cliConfig} npx eaas --profile ${KEY_USER} whoami`,
      '',
      `  sign in on the page: ${stack.webOrigin}/`,
      ...(stack.userPool.seeded
        ? [
            `    person ${stack.userPool.seeded.username}, one-time password ${stack.userPool.seeded.temporaryPassword}`,
            '    (shown on this first start only; a new password is chosen at the first sign-in)',
          ]
        : [`    as ${SEED_PERSON.username} (password chosen at the first sign-in), or a person you added`]),
      // The password is read from the terminal: not typed into the command line or the shell's history.
      '  add a person (their one-time password is read without echo, kept out of shell history):',
      "    read -rs -p 'one-time password for bob: ' PW; echo",
      `    aws --profile ${KEY_MANAGER} --endpoint-url ${stack.userPool.endpoint} cognito-idp admin-create-user \\`,
      `      --user-pool-id ${stack.userPool.userPoolId} --username bob --temporary-password "$PW"; unset PW`,
      '',
      'Ctrl-C stops it.',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping`);
    stack.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
