/**
 * The operator commands' one-line errors that need no deployed keydrift: the real binary (node bin/keydrift.cjs),
 * with every AWS call sent to a loopback port where nothing listens, so none can reach AWS. What a command refuses
 * before any AWS call shows as its own message, not as "cannot reach".
 */
import { createServer } from 'node:net';
import { runKeydrift, tempDir } from '../helpers/keydrift';

let cwd: string;
let closedPort: number;
/** Fake credentials and a Region, and AWS_ENDPOINT_URL at the closed loopback port; nothing else from this process. */
let env: NodeJS.ProcessEnv;

/** A loopback port nothing listens on (one just released). */
function closedLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

beforeAll(async () => {
  cwd = tempDir();
  closedPort = await closedLoopbackPort();
  env = {
    PATH: process.env.PATH,
    HOME: tempDir(),
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'eu-west-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL: `http://127.0.0.1:${closedPort}`,
  };
});

describe('an endpoint that cannot be reached', () => {
  it('is named as AWS_ENDPOINT_URL set it, with what to do, in one line (exit 2)', () => {
    // Act
    const run = runKeydrift(['status'], { cwd, env });
    // Assess
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      `keydrift: cannot reach http://127.0.0.1:${closedPort} (the endpoint set by AWS_ENDPOINT_URL): connect ` +
        `ECONNREFUSED 127.0.0.1:${closedPort}: check that it is running and its URL is right, or unset ` +
        'AWS_ENDPOINT_URL to reach AWS in eu-west-1\n',
    );
  });

  it('is named as --endpoint-url set it, which wins over AWS_ENDPOINT_URL', () => {
    const url = `http://localhost:${closedPort}`;
    const run = runKeydrift(['findings', '--endpoint-url', url], {
      cwd,
      env: { ...env, AWS_ENDPOINT_URL: 'http://127.0.0.1:1' },
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      new RegExp(
        `^keydrift: cannot reach ${url} \\(the endpoint set by --endpoint-url\\): connect ECONNREFUSED .*: check ` +
          'that it is running and its URL is right, or leave out --endpoint-url to reach AWS in eu-west-1\\n$',
      ),
    );
  });
});

describe('keydrift baseline show|accept KEY', () => {
  it.each([['accept'], ['show']])(
    'baseline %s refuses what is no KMS key, alias or trail before any AWS call, naming what it takes (exit 2)',
    (command) => {
      // Act
      const run = runKeydrift(['baseline', command, 'arn:aws:s3:::bucket'], { cwd, env });
      // Assess
      expect(run.status).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        "error: command-argument value 'arn:aws:s3:::bucket' is invalid for argument 'key'. expected a KMS key id " +
          '(1234abcd-12ab-34cd-56ef-1234567890ab or mrk-…), key ARN, alias name (alias/payments) or alias ARN, or a ' +
          `CloudTrail trail ARN\n(run keydrift baseline ${command} --help for usage)\n`,
      );
    },
  );
});

describe('keydrift findings --resource NAME', () => {
  it('refuses a name that is no key id or alias name before asking KMS (exit 2)', () => {
    const run = runKeydrift(['findings', '--resource', 'payments'], { cwd, env });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^keydrift: not a KMS key, alias or trail: payments \(expected a KMS key id .*\)\n$/);
  });

  it.each([['arn:aws:s3:::bucket'], ['arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab ']])(
    'refuses an ARN of no key, alias or trail (%j) before any AWS call, not as a resource without findings (exit 2)',
    (name) => {
      const run = runKeydrift(['findings', '--resource', name], { cwd, env });
      expect(run.status).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        `keydrift: not a KMS key, alias or trail: ${name} (expected a KMS key id (1234abcd-12ab-34cd-56ef-1234567890ab ` +
          'or mrk-…), key ARN, alias name (alias/payments) or alias ARN, or a CloudTrail trail ARN)\n',
      );
    },
  );
});

describe('keydrift baseline adopt without --yes', () => {
  it('refuses when standard input is not a terminal, before any AWS call, in one line (exit 2)', () => {
    // Act: standard input is a pipe, as in a script or CI.
    const run = runKeydrift(['baseline', 'adopt'], { cwd, env, input: 'y\n' });
    // Assess
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'keydrift baseline adopt: nothing accepted: standard input is not a terminal, so there is no one to ask; ' +
        'pass --yes to accept without asking\n',
    );
  });
});

describe('an empty table or stack name', () => {
  it.each([
    [['--table', ''], {}, "option '--table <name>' argument '' is invalid"],
    [['--stack-name', ' '], {}, "option '--stack-name <name>' argument ' ' is invalid"],
    [[], { KEYDRIFT_TABLE: '' }, "option '--table <name>' value '' from env 'KEYDRIFT_TABLE' is invalid"],
  ])('is refused before any AWS call rather than read as the default (%j %j, exit 2)', (args, extraEnv, message) => {
    // Act
    const run = runKeydrift(['status', ...args], { cwd, env: { ...env, ...extraEnv } });
    // Assess
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      `error: ${message}. expected a name, not an empty one\n(run keydrift status --help for usage)\n`,
    );
  });
});
