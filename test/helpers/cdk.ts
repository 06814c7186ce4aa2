/**
 * Test Apps that behave like `cdk synth`: they load cdk.json's context (feature flags change the template,
 * and a bare `new App()` does not read them) and synthesize into a fresh folder under the OS temp dir.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';

const CDK_JSON = path.join(__dirname, '..', '..', 'cdk.json');
const outdirs: string[] = [];

/** cdk.json's `context` block (feature flags, telemetry off). */
export function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(CDK_JSON, 'utf8')).context;
}

/**
 * An App with cdk.json's context that skips esbuild bundling (`aws:cdk:bundling-stacks: []`); pass
 * `{ 'aws:cdk:bundling-stacks': ['**'] }` in `extraContext` to bundle for real.
 */
export function testApp(extraContext: Record<string, unknown> = {}): App {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'keydrift-cdk-'));
  outdirs.push(outdir);
  return new App({ outdir, context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...extraContext } });
}

// Registered when a test file imports this helper: the synth folders go once the file's tests are done.
afterAll(() => {
  for (const dir of outdirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
