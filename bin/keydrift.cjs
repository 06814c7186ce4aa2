#!/usr/bin/env node
// The keydrift command: runs the TypeScript CLI through tsx, so `npm ci` is the only set-up step.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
require('tsx/cjs/api').register();
require('../lambda/cli/main.ts')
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error) => {
    console.error(error);
    process.exitCode = 70;
  });
