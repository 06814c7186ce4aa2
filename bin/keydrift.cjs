#!/usr/bin/env node
// The keydrift command. It runs an esbuild bundle of the TypeScript CLI, rebuilt whenever a source file
// is newer (about 0.1 s), so start-up stays fast and `npm ci` is the only set-up step. Without esbuild
// (a production-only install) it runs the TypeScript directly through tsx.
const fs = require('node:fs');
const path = require('node:path');

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const root = path.join(__dirname, '..');
const outdir = path.join(root, 'node_modules', '.cache', 'keydrift');
const entryPoints = {
  cli: 'lambda/cli/main.ts',
  'parse-worker': 'lambda/replay/parse-worker.ts',
  // The operator commands and the AWS SDK: a bundle of their own, loaded only when one runs (replay never needs it).
  'operator-actions': 'lambda/cli/operator-actions.ts',
};

function newestSource(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

function loadCli() {
  const bundle = path.join(outdir, 'cli.cjs');
  let esbuild;
  try {
    esbuild = require('esbuild');
  } catch {
    require('tsx/cjs/api').register();
    return require('../lambda/cli/main.ts');
  }
  const built = fs.existsSync(bundle) ? fs.statSync(bundle).mtimeMs : 0;
  if (built < Math.max(newestSource(path.join(root, 'lambda')), fs.statSync(__filename).mtimeMs)) {
    // Build beside the cache and rename into place, so concurrent first runs never load a half-written file.
    const staging = `${outdir}.${process.pid}`;
    esbuild.buildSync({
      entryPoints: Object.fromEntries(Object.entries(entryPoints).map(([name, file]) => [name, path.join(root, file)])),
      outdir: staging,
      outExtension: { '.js': '.cjs' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      logLevel: 'error',
      // lambda/cli/operator.ts requires it as ./operator-actions: left to Node, which finds the bundle below.
      external: ['./operator-actions'],
    });
    fs.mkdirSync(outdir, { recursive: true });
    // The others first: the CLI bundle appearing is what marks the build complete.
    fs.renameSync(path.join(staging, 'operator-actions.cjs'), path.join(outdir, 'operator-actions.js'));
    for (const name of ['parse-worker.cjs', 'cli.cjs'])
      fs.renameSync(path.join(staging, name), path.join(outdir, name));
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return require(bundle);
}

loadCli()
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error) => {
    console.error(error);
    process.exitCode = 70;
  });
