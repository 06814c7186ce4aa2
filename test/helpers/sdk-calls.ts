/**
 * The IAM actions a Lambda entry point's own code can need, read from its source: every AWS SDK command and paginator
 * imported by a keydrift module the entry point bundles (found by esbuild, as the stack bundles it), and for a
 * DynamoDB transaction the item-level actions of the requests it builds (`Put`, `Update`, `Delete`, `ConditionCheck`).
 * Comments are left out, so an example in a doc comment is no call.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = path.join(__dirname, '..', '..');

/** IAM's service prefix of each SDK client keydrift's functions use. */
const SERVICE_PREFIX: Record<string, string> = {
  '@aws-sdk/client-cloudtrail': 'cloudtrail',
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/client-eventbridge': 'events',
  '@aws-sdk/client-kms': 'kms',
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
  '@aws-sdk/client-sns': 'sns',
};

/** The IAM action of each request kind of a TransactWriteItems call. */
const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

const withoutComments = (source: string): string =>
  source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

/** The keydrift source files (relative to the repository) an entry point bundles. */
export function bundledSources(entry: string): string[] {
  const { metafile } = buildSync({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  });
  return Object.keys(metafile.inputs).filter((file) => file.startsWith('lambda/'));
}

/** Every IAM action the SDK calls in an entry point's bundled source make, sorted. */
export function sdkActions(entry: string): string[] {
  const actions = new Set<string>();
  for (const file of bundledSources(entry)) {
    const source = withoutComments(fs.readFileSync(path.join(ROOT, file), 'utf8'));
    for (const [, names, module] of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(@aws-sdk\/client-[a-z-]+)'/g)) {
      const prefix = SERVICE_PREFIX[module];
      if (!prefix) throw new Error(`${file} imports ${module}: give its IAM service prefix in sdk-calls.ts`);
      for (const raw of names.split(',')) {
        const name = raw.trim();
        if (name.startsWith('type ')) continue;
        const command = /^(\w+)Command$/.exec(name)?.[1] ?? /^paginate(\w+)$/.exec(name)?.[1];
        if (!command || !new RegExp(`\\b${name}\\b`).test(source.replace(raw, ''))) continue;
        if (command === 'TransactWriteItems') {
          for (const [kind, action] of Object.entries(TRANSACT_ITEM_ACTIONS)) {
            if (new RegExp(`[{,]\\s*${kind}\\s*:`).test(source)) actions.add(action);
          }
        } else {
          actions.add(`${prefix}:${command}`);
        }
      }
    }
  }
  return [...actions].sort();
}
