/**
 * cfn-lint over the synthesized templates (default and every option). Errors fail; each accepted warning is listed
 * below with its reason, and any other warning fails too.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { KeydriftStack } from '../../lib/keydrift-stack';
import { testApp } from '../helpers/cdk';

interface Finding {
  Level: 'Error' | 'Warning' | 'Informational';
  Message: string;
  Filename: string;
  Location: { Path: (string | number)[] };
  Rule: { Id: string };
}

/** Warnings we accept: rule id, where (template path), and why. */
const ACCEPTED_WARNINGS: { rule: string; path: RegExp; reason: string }[] = [
  {
    rule: 'W3005',
    path: /^Resources\/Keydrift(Detector|Reconciler|Pager)[0-9A-F]{8}\/DependsOn\/\d+$/,
    reason:
      'aws-cdk-lib makes every Lambda function DependsOn its role and the role policy, so the permissions exist ' +
      'before the function runs. The role half is redundant with the GetAtt but harmless, and CDK does not ' +
      'offer a way to drop it.',
  },
];

let findings: Finding[];

beforeAll(() => {
  const app = testApp();
  const stacks = [
    new KeydriftStack(app, 'KeydriftDefault'),
    new KeydriftStack(app, 'KeydriftFull', {
      config: {
        alertEmails: ['secops@example.com'],
        slack: { workspaceId: 'T07EA123LEP', channelId: 'C07EZ1ABC23' },
        pagerDutySecretName: 'keydrift/pagerduty',
        plannedPrincipals: ['arn:aws:iam::111122223333:role/platform-deployer'],
        createTrail: true,
      },
    }),
  ];
  const quiet = jest.spyOn(console, 'error').mockImplementation(() => {});
  try {
    app.synth();
  } finally {
    quiet.mockRestore();
  }
  const templates = stacks.map((stack) => path.join(app.outdir, stack.templateFile));
  const lint = spawnSync('cfn-lint', ['--format', 'json', ...templates], { encoding: 'utf8' });
  if (lint.error) throw lint.error;
  // cfn-lint's exit code is a bit mask of the levels found; the JSON on stdout is what counts.
  if (!lint.stdout.trim().startsWith('[')) throw new Error(`cfn-lint failed: ${lint.stderr || lint.stdout}`);
  findings = JSON.parse(lint.stdout);
});

const describeFinding = (f: Finding) =>
  `${f.Rule.Id} ${path.basename(f.Filename)} ${f.Location.Path.join('/')}: ${f.Message}`;

describe('cfn-lint', () => {
  it('reports no errors', () => {
    expect(findings.filter((f) => f.Level === 'Error').map(describeFinding)).toEqual([]);
  });

  it('reports no warnings beyond the accepted ones', () => {
    const unexpected = findings
      .filter((f) => f.Level === 'Warning')
      .filter((f) => !ACCEPTED_WARNINGS.some((a) => a.rule === f.Rule.Id && a.path.test(f.Location.Path.join('/'))));
    expect(unexpected.map(describeFinding)).toEqual([]);
  });
});
