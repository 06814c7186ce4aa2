/**
 * What the keydrift command says before any command runs: its version, and after a usage error the error and
 * where the help is. The real binary (node bin/keydrift.cjs), as a user runs it; nothing is read and AWS is
 * never called.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, REPO, runKeydrift, tempDir } from '../helpers/keydrift';

let cwd: string;

beforeAll(() => {
  cwd = tempDir();
});

describe('keydrift --version', () => {
  it('prints the version in package.json and exits 0', () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
    const run = runKeydrift(['--version'], { cwd });
    expect(run).toEqual({ status: 0, stdout: `${version}\n`, stderr: '' });
  });
});

describe('standard output closed before anything is written (`| head -0`)', () => {
  it.each([[['--version']], [['--help']], [['replay', '--help']], [['help', 'baseline']]])(
    'keydrift %j ends quietly, with no stack trace, and exits 0',
    async (args) => {
      // Act: close the pipe before the command writes to it, as a reader that stops early does.
      const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const status = await new Promise((resolve) => child.on('close', resolve));
      // Assess
      expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    },
  );
});

describe('a usage error', () => {
  it.each([
    [['replay', '--colour', 'logs/'], "error: unknown option '--colour'\n(run keydrift replay --help for usage)\n"],
    [['baseline', 'show'], "error: missing required argument 'key'\n(run keydrift baseline show --help for usage)\n"],
    [['replai'], "error: unknown command 'replai'\n(Did you mean replay?)\n(run keydrift --help for usage)\n"],
  ])('keydrift %j prints the error and whose help to read, not the help, and exits 2', (args, stderr) => {
    const run = runKeydrift(args, { cwd });
    expect(run).toEqual({ status: 2, stdout: '', stderr });
  });
});
