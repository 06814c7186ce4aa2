/**
 * What the README's Deploy section promises, checked against package.json and the synthesized stack: the commands
 * it tells users to run, and the alarm count and conditional items of its cost table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { KeydriftProps } from '../../lib/config';
import { OUTPUT_KEYS } from '../../lib/keydrift';
import { KeydriftStack } from '../../lib/keydrift-stack';
import { testApp } from '../helpers/cdk';

const ROOT = path.join(__dirname, '..', '..');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const scripts: Record<string, string> = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts;

/** The README's section under `heading` (e.g. `## Deploy`), up to the next heading of the same or a higher level. */
function section(heading: string): string {
  const level = heading.indexOf(' ');
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start).toBeGreaterThanOrEqual(0);
  const rest = readme.slice(start + heading.length + 2);
  const next = rest.search(new RegExp(`^#{1,${level}} `, 'm'));
  return next < 0 ? rest : rest.slice(0, next);
}

function alarmCount(config: KeydriftProps): number {
  const stack = new KeydriftStack(testApp(), 'Keydrift', { config });
  const quiet = jest.spyOn(console, 'error').mockImplementation(() => {});
  try {
    return Object.keys(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm')).length;
  } finally {
    quiet.mockRestore();
  }
}

describe('README: deploying', () => {
  it('has package.json synth and deploy scripts that turn off the CDK CLI version check', () => {
    expect(scripts.synth).toMatch(/^CDK_DISABLE_VERSION_CHECK=1 cdk synth\b/);
    expect(scripts.deploy).toMatch(/^CDK_DISABLE_VERSION_CHECK=1 cdk deploy\b/);
  });

  it('synthesizes and deploys through those scripts, never through a bare cdk synth or deploy', () => {
    const deploy = section('## Deploy');
    expect(deploy).toContain('npm run deploy -- -c keydrift=');
    expect(deploy).toContain('npm run synth');
    expect(readme).not.toMatch(/\b(npx )?cdk (synth|deploy)\b/);
  });
});

describe('README: operating', () => {
  it('looks up only stack outputs the stack exports', () => {
    const lookedUp = [...readme.matchAll(/\$\(out (\w+)\)/g)].map(([, key]) => key);
    expect(lookedUp).toEqual(expect.arrayContaining(['DeadLetterQueueUrl', 'DetectorFunctionName']));
    expect(Object.values(OUTPUT_KEYS)).toEqual(expect.arrayContaining(lookedUp));
  });
});

describe('README: what the stack holds and costs', () => {
  let byDefault: number;
  let withPaging: number;
  beforeAll(() => {
    byDefault = alarmCount({});
    withPaging = alarmCount({ pagerDutySecretName: 'keydrift/pagerduty', createTrail: true });
  });

  it('counts the alarms the stack creates, by default and with PagerDuty, at $0.10 each', () => {
    const row = section('### What it costs').match(
      /^\| (\d+)–(\d+) CloudWatch alarms[^|]*\| \$(\d+\.\d\d)–(\d+\.\d\d) \|$/m,
    );
    expect(row).not.toBeNull();
    const [, low, high, lowCost, highCost] = row!;
    expect([Number(low), Number(high)]).toEqual([byDefault, withPaging]);
    expect([lowCost, highCost]).toEqual([(byDefault * 0.1).toFixed(2), (withPaging * 0.1).toFixed(2)]);
    const holds = section('## Deploy').replace(/\s+/g, ' ');
    expect(holds).toContain(`${byDefault} CloudWatch alarms to the \`ops\` topic (${withPaging} with PagerDuty`);
  });

  it('lists the Secrets Manager secret and the trail key, each marked as conditional', () => {
    const rows = section('### What it costs').split('\n');
    expect(rows).toContainEqual(
      expect.stringMatching(/^\| only with `pagerDutySecretName`: .*Secrets Manager secret.*\| \$0\.40 \|$/),
    );
    expect(rows).toContainEqual(expect.stringMatching(/^\| only with `createTrail`: .*KMS key.*\| \$1\.00 \|$/));
  });
});
