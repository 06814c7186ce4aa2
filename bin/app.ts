/**
 * The keydrift CDK app. Configuration comes from the `keydrift` context key, as an object in cdk.json or
 * cdk.context.json, or as JSON on the command line:
 *
 *   npm run deploy -- -c keydrift='{"alertEmails":["secops@example.com"],"createTrail":true}'
 *
 * (`npm run synth` and `npm run deploy` set CDK_DISABLE_VERSION_CHECK=1, so the CLI does not ask npm for updates.)
 *
 * The stack is called `Keydrift` unless `-c stackName=...` says otherwise. It is environment-agnostic: the
 * account and Region come from the credentials used to deploy.
 */
import { App } from 'aws-cdk-lib';
import { configFromContext, stackNameFromContext } from '../lib/app-context';
import { KeydriftStack } from '../lib/keydrift-stack';

const app = new App();
try {
  new KeydriftStack(app, stackNameFromContext(app), { config: configFromContext(app) });
} catch (error) {
  // A configuration mistake gets one clear line (it names the field) rather than a stack trace.
  if (error instanceof Error && error.message.startsWith('keydrift')) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
