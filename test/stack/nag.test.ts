/**
 * cdk-nag's AWS Solutions checks over the whole stack, default and with every option. cdk-nag 3 is a validation
 * plugin: synth throws `ValidationFailed` and writes the findings to `validation-report.json`. Every exception is
 * acknowledged in lib/ with its reason, so any finding here is new and must be fixed or justified there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { KeydriftProps } from '../../lib/config';
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

/** Synthesizes on an App of its own (the plugin makes every synth of that App validate) and lists the findings. */
function unacknowledgedFindings(config: KeydriftProps): string[] {
  const app = testApp();
  new KeydriftStack(app, 'Keydrift', { config });
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
});
