/**
 * cdk-nag's AWS Solutions checks over the whole stack, default and with every option. cdk-nag 3 is a validation
 * plugin: synth throws `ValidationFailed` and writes the findings to `validation-report.json`. Every exception is
 * acknowledged in lib/ with its reason, so any finding here is new and must be fixed or justified there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { KeydriftProps } from '../../lib/config';
import { Keydrift } from '../../lib/keydrift';
import { KeydriftStack } from '../../lib/keydrift-stack';
import { testApp } from '../helpers/cdk';

/** Findings that are the point, not a problem: the trail prerequisite and a stack that alerts no one must be seen at synth. */
const EXPECTED_FINDINGS = new Set(['Annotation::keydrift:trailPrerequisite', 'Annotation::keydrift:noAlertTargets']);

interface Violation {
  ruleName: string;
  severity: string;
  description: string;
  violatingConstructs?: { constructPath: string }[];
}

/**
 * Synthesizes on an App of its own (the plugin makes every synth of that App validate) and lists the findings.
 * `build` puts keydrift in the App; by default the keydrift stack with `config`.
 */
function unacknowledgedFindings(
  config: KeydriftProps,
  build: (app: App) => void = (app) => new KeydriftStack(app, 'Keydrift', { config }),
): string[] {
  const app = testApp();
  build(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const quiet = jest.spyOn(console, 'error').mockImplementation(() => {});
  try {
    app.synth();
  } catch (error) {
    if ((error as Error).name !== 'ValidationFailed') throw error;
  } finally {
    quiet.mockRestore();
  }
  const reportPath = path.join(app.outdir, 'validation-report.json');
  if (!fs.existsSync(reportPath)) return [];
  const report = JSON.parse(fs.readFileSync(reportPath, 'utf8')) as {
    pluginReports: { pluginName: string; violations: Violation[] }[];
  };
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations
      .filter((v) => !EXPECTED_FINDINGS.has(v.ruleName))
      .map((v) => {
        const where = (v.violatingConstructs ?? []).map((c) => c.constructPath).join(', ');
        return `${plugin.pluginName} ${v.ruleName} (${v.severity}) at ${where}: ${v.description}`;
      }),
  );
}

describe('cdk-nag AWS Solutions checks', () => {
  it('find nothing unacknowledged in the default stack', () => {
    expect(unacknowledgedFindings({})).toEqual([]);
  });

  it('find nothing unacknowledged with Slack, paging, e-mail and the trail', () => {
    const findings = unacknowledgedFindings({
      alertEmails: ['secops@example.com'],
      slack: { workspaceId: 'T07EA123LEP', channelId: 'C07EZ1ABC23' },
      pagerDutySecretName: 'keydrift/pagerduty',
      createTrail: true,
    });
    expect(findings).toEqual([]);
  });

  it('find nothing unacknowledged in a stack deployed to a given account and Region, whose ARNs name them', () => {
    const findings = unacknowledgedFindings({ createTrail: true }, (app) => {
      new KeydriftStack(app, 'Keydrift', {
        env: { account: '111122223333', region: 'eu-west-1' },
        config: { createTrail: true },
      });
    });
    expect(findings).toEqual([]);
  });

  it("still find the wildcards of the user's own roles in a stack that holds keydrift, environment given or not", () => {
    for (const env of [{ account: '111122223333', region: 'eu-west-1' }, undefined]) {
      const findings = unacknowledgedFindings({}, (app) => {
        const stack = new Stack(app, 'Platform', { env });
        new Keydrift(stack, 'Keydrift', { alertEmails: ['secops@example.com'] });
        // The platform team's own role, with the very wildcards keydrift acknowledges for its functions.
        new iam.Role(stack, 'Auditor', { assumedBy: new iam.AccountRootPrincipal() }).addToPolicy(
          new iam.PolicyStatement({
            actions: ['kms:DescribeKey'],
            resources: [stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' })],
          }),
        );
      });
      expect(findings).toEqual([
        expect.stringMatching(/^AwsSolutions AwsSolutions-IAM5\[.*:key\/\*\] .* at Platform\/Auditor\//),
      ]);
    }
  });
});
