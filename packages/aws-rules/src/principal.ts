/**
 * Caller principals. An assumed-role session ARN (`arn:aws:sts::A:assumed-role/R/S`) is the role
 * `arn:aws:iam::A:role/R` for matching against key policies and grants, as KMS does.
 */
const ASSUMED_ROLE = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/(.+)\/([^/]+)$/;

export function normalisePrincipal(arn: string): string {
  const m = ASSUMED_ROLE.exec(arn);
  if (!m) return arn;
  const [, partition, account, rolePath] = m;
  return `arn:${partition}:iam::${account}:role/${rolePath}`;
}

/** The names a caller answers to: as authenticated, and as its role when it is a role session. */
export function principalNames(arn: string): string[] {
  const normalised = normalisePrincipal(arn);
  return normalised === arn ? [arn] : [arn, normalised];
}

/** The account of an IAM or STS ARN, or undefined when the text is not such an ARN. */
export function accountOf(arn: string): string | undefined {
  return /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1];
}

/** An IAM user, role, account root or assumed-role session ARN, as policies and grants name them. */
const PRINCIPAL_ARN =
  /^arn:aws[a-z-]*:(?:iam::\d{12}:(?:root|user\/[\w+=,.@/-]{1,512}|role\/[\w+=,.@/-]{1,512})|sts::\d{12}:assumed-role\/[\w+=,.@/-]{1,512})$/;

export function isPrincipalArn(text: string): boolean {
  return text.length <= 1024 && PRINCIPAL_ARN.test(text);
}
