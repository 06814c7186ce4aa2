// npm links the bins of dependencies, not the project's own: this makes `npx keydrift` work after `npm ci`.
const fs = require('node:fs');
const path = require('node:path');

const link = path.join(__dirname, '..', 'node_modules', '.bin', 'keydrift');
fs.mkdirSync(path.dirname(link), { recursive: true });
fs.rmSync(link, { force: true });
fs.symlinkSync(path.join('..', '..', 'bin', 'keydrift.cjs'), link);
