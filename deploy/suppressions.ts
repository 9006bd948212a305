/**
 * The policy check's one suppression file (deploy/nag-suppressions.yml): which findings of
 * cdk-nag's packs and of the project's own assertions are accepted, on which resources, and why.
 * An entry names a rule, optionally the bracketed finding of rules that report several per
 * resource (cdk-nag's `AwsSolutions-IAM5[Resource::*]` is rule `AwsSolutions-IAM5`, finding
 * `Resource::*`), the resources' logical ids, and a reason. It matches exactly: no wildcards, no
 * rule-wide entries. An entry's resource that matches no finding is stale, and fails the check.
 */
import { parse } from 'yaml';
import type { Finding } from './template-assertions.js';

export interface Suppression {
  rule: string;
  finding?: string;
  resources: string[];
  reason: string;
}

export interface Stale {
  rule: string;
  finding?: string;
  resource: string;
}

export interface Outcome {
  open: Finding[];
  suppressed: Finding[];
  stale: Stale[];
}

const KEYS = new Set(['rule', 'finding', 'resources', 'reason']);

/** The entries of a suppression file; throws, naming the entry, on anything malformed. */
export function parseSuppressions(text: string): Suppression[] {
  const doc = parse(text) as unknown;
  const entries = (doc as { suppressions?: unknown } | null)?.suppressions;
  if (!Array.isArray(entries)) throw new Error('the suppression file has no `suppressions:` list');
  const seen = new Set<string>();
  return entries.map((entry: unknown, i) => {
    const at = `suppression ${i + 1}`;
    if (typeof entry !== 'object' || entry === null) throw new Error(`${at}: not a mapping`);
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) if (!KEYS.has(key)) throw new Error(`${at}: unknown key ${key}`);
    if (typeof e.rule !== 'string' || !/^[A-Za-z]+-[A-Za-z0-9]+$/.test(e.rule))
      throw new Error(
        `${at}: rule must be a rule id such as AwsSolutions-IAM5 (a finding goes in \`finding\`)`,
      );
    if (e.finding !== undefined && (typeof e.finding !== 'string' || e.finding === ''))
      throw new Error(`${at} (${e.rule}): finding must be a non-empty string`);
    if (
      !Array.isArray(e.resources) ||
      e.resources.length === 0 ||
      !e.resources.every((r) => typeof r === 'string' && /^[A-Za-z0-9]+$/.test(r))
    )
      throw new Error(`${at} (${e.rule}): resources must be a non-empty list of logical ids`);
    const reason = typeof e.reason === 'string' ? e.reason.trim().replace(/\s+/g, ' ') : '';
    if (reason.split(' ').length < 6 || !/[.)]$/.test(reason))
      throw new Error(
        `${at} (${e.rule}): reason must be a sentence saying why (six words or more, ending in a period)`,
      );
    const rule = e.rule;
    const finding = e.finding as string | undefined;
    for (const resource of e.resources as string[]) {
      const key = `${rule}[${finding ?? ''}] ${resource}`;
      if (seen.has(key)) throw new Error(`${at}: ${label(rule, finding)} on ${resource} is suppressed twice`);
      seen.add(key);
    }
    return {
      rule,
      ...(finding === undefined ? {} : { finding }),
      resources: e.resources as string[],
      reason,
    };
  });
}

/** A rule id with its bracketed finding, as cdk-nag prints it. */
export const label = (rule: string, finding?: string): string =>
  finding === undefined ? rule : `${rule}[${finding}]`;

/** Splits findings into open and suppressed, and lists the entries' resources that matched nothing. */
export function applySuppressions(findings: Finding[], suppressions: Suppression[]): Outcome {
  const used = new Set<string>();
  const open: Finding[] = [];
  const suppressed: Finding[] = [];
  for (const f of findings) {
    const by = suppressions.findIndex(
      (s) => s.rule === f.rule && s.finding === f.finding && s.resources.includes(f.resource),
    );
    if (by === -1) open.push(f);
    else {
      suppressed.push(f);
      used.add(`${by} ${f.resource}`);
    }
  }
  const stale = suppressions.flatMap((s, i) =>
    s.resources
      .filter((resource) => !used.has(`${i} ${resource}`))
      .map((resource) => ({
        rule: s.rule,
        ...(s.finding === undefined ? {} : { finding: s.finding }),
        resource,
      })),
  );
  return { open, suppressed, stale };
}
