/**
 * `npm run check:deploy`: the policy check of the packaged template, run by CI after lint
 * (docs/deploying.md, "Policy check").
 *
 * 1. Packages the service (`npm run package`, offline), unless `--packaged` (use the template
 *    already in .serverless/) or `--template=<file>` says which template to read. Any other
 *    argument goes to `npm run package` (e.g. `--param="webOrigin=..."`).
 * 2. Loads the template into an aws-cdk-lib App (cloudformation-include's CfnInclude), registers
 *    cdk-nag's AwsSolutions and Serverless packs, synthesizes, and collects every finding (errors
 *    and warnings) the packs report.
 * 3. Runs the project's own assertions (deploy/template-assertions.ts) over the template's JSON.
 * 4. Applies deploy/nag-suppressions.yml: exits 1 listing every finding it does not cover, and
 *    every entry's resource that matched no finding (stale).
 * 5. Prints the template's known residual risks (knownRisks in deploy/template-assertions.ts) as
 *    warnings: they do not fail the check, and no suppression hides them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  App,
  CfnResource,
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
  type PolicyViolation,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { applySuppressions, label, parseSuppressions } from './suppressions.js';
import { assertTemplate, type Finding, knownRisks, type Template } from './template-assertions.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGED = join(ROOT, '.serverless', 'cloudformation-template-update-stack.json');
const SUPPRESSIONS = join(ROOT, 'deploy', 'nag-suppressions.yml');

/**
 * Runs the packs when the app synthesizes and keeps what they find, answering success to the
 * CDK: the suppression file, not the CDK's report, decides what fails.
 */
class Collect implements IPolicyValidationPlugin {
  readonly name = 'eaas-policy-check';
  readonly violations: PolicyViolation[] = [];
  constructor(private readonly packs: IPolicyValidationPlugin[]) {}
  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    for (const pack of this.packs) this.violations.push(...pack.validate(context).violations);
    return { success: true, violations: [] };
  }
}

/**
 * The template as the CDK's typed resources accept it. The framework writes the REST API's
 * `Policy` as "" (no resource policy), which CloudFormation takes as none and the CDK rejects
 * (it wants a JSON object): dropped, which is the same API.
 */
function forCdk(template: Template): Template {
  const copy = structuredClone(template);
  for (const r of Object.values(copy.Resources))
    if (r.Type === 'AWS::ApiGateway::RestApi' && r.Properties?.Policy === '') delete r.Properties.Policy;
  return copy;
}

/** The stage's name in a finding, as `<stage>`, so that one suppression file fits every stage. */
function stageless(template: Template): (text: string) => string {
  const stage = Object.values(template.Resources).find((r) => r.Type === 'AWS::ApiGateway::Stage')?.Properties
    ?.StageName;
  if (typeof stage !== 'string' || stage === '') return (text) => text;
  const re = new RegExp(`(?<=[-/])${stage.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[-/])`, 'g');
  return (text) => text.replace(re, '<stage>');
}

/** cdk-nag's findings on the template: AwsSolutions and Serverless packs, errors and warnings. */
function nagFindings(template: Template): Finding[] {
  const work = mkdtempSync(join(tmpdir(), 'eaas-check-deploy-'));
  try {
    const templateFile = join(work, 'template.json');
    writeFileSync(templateFile, JSON.stringify(forCdk(template)));
    // No built-in CloudFormation validation: it judges the template's conditions as constants
    // (the framework resolved every parameter), which is noise here; cdk-nag is what runs.
    const app = new App({
      outdir: join(work, 'cdk.out'),
      builtinCloudFormationValidation: false,
      treeMetadata: false,
    });
    const stack = new Stack(app, 'eaas');
    new CfnInclude(stack, 'Template', { templateFile });
    const collect = new Collect([new AwsSolutionsChecks(), new ServerlessChecks()]);
    Validations.of(app).addPlugins(collect);
    app.synth();
    const logicalIds = new Map<string, string>();
    for (const c of stack.node.findAll())
      if (CfnResource.isCfnResource(c)) logicalIds.set(c.node.path, stack.resolve(c.logicalId) as string);
    const normalize = stageless(template);
    return collect.violations.flatMap((v) => {
      const [, rule = v.ruleName, finding] = /^([^[]+)(?:\[(.*)\])?$/.exec(v.ruleName) ?? [];
      return v.violatingResources.map(
        (r): Finding => ({
          rule,
          ...(finding === undefined ? {} : { finding: normalize(finding) }),
          resource: r.resourceLogicalId ?? logicalIds.get(r.constructPath ?? '') ?? r.constructPath ?? '?',
          level: v.severity === 'warning' ? 'warning' : 'error',
          message: v.description,
        }),
      );
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function parseArgs(argv: string[]): { template?: string; packaged: boolean; packageArgs: string[] } {
  let template: string | undefined;
  let packaged = false;
  const packageArgs: string[] = [];
  for (const arg of argv) {
    if (arg === '--packaged') packaged = true;
    else if (arg.startsWith('--template=')) template = arg.slice('--template='.length);
    else packageArgs.push(arg);
  }
  return { template, packaged, packageArgs };
}

function main(): number {
  const started = Date.now();
  const args = parseArgs(process.argv.slice(2));
  let templateFile = PACKAGED;
  if (args.template !== undefined) templateFile = resolve(args.template);
  else if (!args.packaged) {
    const run = spawnSync('npm', ['run', '--silent', 'package', '--', ...args.packageArgs], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (run.status !== 0) {
      console.error(`check:deploy: \`npm run package\` failed (${run.status ?? run.signal})`);
      return 1;
    }
  }
  const template = JSON.parse(readFileSync(templateFile, 'utf8')) as Template;
  const suppressions = parseSuppressions(readFileSync(SUPPRESSIONS, 'utf8'));

  const findings = [...nagFindings(template), ...assertTemplate(template)];
  const { open, suppressed, stale } = applySuppressions(findings, suppressions);

  // Per rule: found, suppressed, open.
  const counts = new Map<string, [number, number, number]>();
  const count = (f: Finding, i: 0 | 1 | 2) => {
    const c = counts.get(f.rule) ?? [0, 0, 0];
    c[i] += 1;
    counts.set(f.rule, c);
  };
  for (const f of findings) count(f, 0);
  for (const f of suppressed) count(f, 1);
  for (const f of open) count(f, 2);
  const width = Math.max(...[...counts.keys()].map((r) => r.length), 4);
  const out: string[] = [`Policy check of ${templateFile.replace(`${ROOT}/`, '')}`, ''];
  out.push(`${'rule'.padEnd(width)}  found  suppressed  open`);
  for (const [rule, [n, s, o]] of [...counts].sort(([a], [b]) => a.localeCompare(b)))
    out.push(
      `${rule.padEnd(width)}  ${String(n).padStart(5)}  ${String(s).padStart(10)}  ${String(o).padStart(4)}`,
    );
  out.push(
    `${'total'.padEnd(width)}  ${String(findings.length).padStart(5)}  ${String(suppressed.length).padStart(10)}  ${String(open.length).padStart(4)}`,
  );

  if (open.length > 0) {
    out.push('', `Findings not suppressed by deploy/nag-suppressions.yml (${open.length}):`);
    const byRule = new Map<string, Finding[]>();
    for (const f of open) {
      const key = `${label(f.rule, f.finding)} (${f.level})`;
      byRule.set(key, [...(byRule.get(key) ?? []), f]);
    }
    for (const [key, fs] of byRule) {
      out.push(`  ${key}`);
      const messages = new Set(fs.map((f) => f.message));
      if (messages.size === 1) {
        out.push(`      ${fs[0]?.message}`);
        for (const f of fs) out.push(`    - ${f.resource}`);
      } else for (const f of fs) out.push(`    - ${f.resource}: ${f.message}`);
    }
  }
  if (stale.length > 0) {
    out.push('', `Stale suppressions, matching no finding (${stale.length}): remove them from the file`);
    for (const s of stale) out.push(`  - ${label(s.rule, s.finding)} on ${s.resource}`);
  }
  const risks = knownRisks(template);
  if (risks.length > 0) {
    out.push('', `Known residual risks (${risks.length}), warnings that do not fail the check:`);
    for (const r of risks) out.push(`  WARNING ${r.rule} ${r.resource}: ${r.message}`);
  }
  const failed = open.length > 0 || stale.length > 0;
  out.push(
    '',
    `${failed ? 'FAILED' : 'OK'}: ${open.length} open, ${stale.length} stale, ${suppressed.length} suppressed ` +
      `(${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
  return failed ? 1 : 0;
}

process.exitCode = main();
