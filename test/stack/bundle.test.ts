/**
 * The one test that really bundles (every other test skips esbuild): the detector, reconciler and pager assets are
 * built with the project's esbuild settings and load in Node as ES modules exporting `handler`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { KeydriftStack } from '../../lib/keydrift-stack';
import { testApp } from '../helpers/cdk';

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation JSON is untyped; assertions check its shape.
type Json = Record<string, any>;

let outdir: string;
let functions: Json[];

beforeAll(() => {
  const app = testApp({ 'aws:cdk:bundling-stacks': ['**'] });
  const stack = new KeydriftStack(app, 'Keydrift', { config: { pagerDutySecretName: 'keydrift/pagerduty' } });
  const quiet = jest.spyOn(console, 'error').mockImplementation(() => {});
  try {
    app.synth();
  } finally {
    quiet.mockRestore();
  }
  outdir = app.outdir;
  const template = JSON.parse(fs.readFileSync(path.join(outdir, Stack.of(stack).templateFile), 'utf8'));
  functions = Object.values(template.Resources as Record<string, Json>).filter(
    (r) => r.Type === 'AWS::Lambda::Function',
  );
}, 60_000);

/** The asset folder CDK staged for a function (its S3 key is `<asset hash>.zip`). */
function assetFile(fn: Json): string {
  const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
  return path.join(outdir, `asset.${hash}`, 'index.mjs');
}

describe('Lambda bundles', () => {
  it('are built for the detector, the reconciler and the pager', () => {
    expect(functions).toHaveLength(3);
    for (const fn of functions) {
      expect(fs.statSync(assetFile(fn)).size).toBeGreaterThan(0);
    }
  });

  it('are ES modules with the createRequire banner for CommonJS dependencies', () => {
    for (const fn of functions) {
      expect(fs.readFileSync(assetFile(fn), 'utf8')).toMatch(
        /^import \{ createRequire as (\w+) \} from 'node:module';const require = \1\(import\.meta\.url\);\n/,
      );
    }
  });

  it('load in Node and export handler', () => {
    for (const fn of functions) {
      // Tokens (ARNs, names) cannot be resolved here; any string lets module-level code read its environment.
      const variables = Object.fromEntries(
        Object.entries((fn.Properties.Environment?.Variables ?? {}) as Json).map(([k, v]) => [
          k,
          typeof v === 'string' ? v : 'unresolved',
        ]),
      );
      const load = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(assetFile(fn))}); console.log(typeof m.handler);`,
        ],
        {
          encoding: 'utf8',
          env: {
            PATH: process.env.PATH,
            AWS_REGION: 'us-east-1',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
            ...variables,
          },
          timeout: 20_000,
        },
      );
      expect({ stdout: load.stdout.trim(), stderr: load.stderr.trim() }).toEqual({ stdout: 'function', stderr: '' });
    }
  });
});
