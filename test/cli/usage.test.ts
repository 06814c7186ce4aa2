/**
 * What the keydrift command says before any command runs: its version, and after a usage error the error and
 * where the help is. The real binary (node bin/keydrift.cjs), as a user runs it; nothing is read and AWS is
 * never called.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, runKeydrift, tempDir } from '../helpers/keydrift';

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
