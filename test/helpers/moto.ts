/**
 * Starts moto's server (a third-party AWS emulator) on a free loopback port for end-to-end tests, and
 * stops it afterwards. moto validates little: tests must never rely on it to reject anything.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

export interface Moto {
  endpoint: string;
  port: number;
  /** SDK client settings that reach this moto only. */
  clientConfig: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  /** Environment for the `aws` CLI and child processes: this moto, fake credentials, no other AWS. */
  env: NodeJS.ProcessEnv;
  /** Runs an `aws` CLI command line against this moto; returns stdout, throws with stderr on failure. */
  aws(args: string[]): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function ensureMotoInstalled(): void {
  const check = spawnSync('python3', ['-c', 'import moto.server'], { encoding: 'utf8' });
  if (check.status === 0) return;
  const install = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', 'moto[server]'], { encoding: 'utf8' });
  if (install.status !== 0) {
    throw new Error(
      `moto is not installed and could not be installed: run  pip install "moto[server]"\n${install.stderr}`,
    );
  }
}

async function waitUntilReady(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto exited early (${child.exitCode}):\n${output()}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto did not start within 20 s:\n${output()}`);
}

export interface StartMotoOptions {
  /**
   * Makes moto accept ARNs where AWS does, in calls moto otherwise answers with HTTP 500 (a `KeyError` inside moto
   * 5.2): KMS EnableKey, DisableKey, ScheduleKeyDeletion and CancelKeyDeletion with a key ARN, and CloudTrail
   * StartLogging and StopLogging with a trail ARN (an unknown trail then gets `TrailNotFoundException`). Only changes
   * how these calls find the resource: keydrift's remediation commands, which name resources by ARN, run as printed.
   */
  acceptArns?: boolean;
}

/**
 * Python run instead of `-m moto.server`. DynamoDB applies each conditional write atomically, but moto's threaded
 * server checks a condition and writes without a lock, so two concurrent claims of one event could both succeed; its
 * item reads and writes are made one at a time here. Then the rotation period (below); then, with
 * `acceptArns`, the patches above; then moto's server.
 */
const ATOMIC_ITEMS_PRELUDE = `
import sys, threading
from moto.dynamodb.models import DynamoDBBackend

_items = threading.RLock()

def _one_at_a_time(method):
    def patched(self, *args, **kwargs):
        with _items:
            return method(self, *args, **kwargs)
    return patched

for _name in ('get_item', 'batch_get_item', 'put_item', 'update_item', 'delete_item', 'transact_write_items'):
    setattr(DynamoDBBackend, _name, _one_at_a_time(getattr(DynamoDBBackend, _name)))
`;

/**
 * moto 5.2 keeps no rotation period: GetKeyRotationStatus answers `KeyRotationEnabled` alone, where AWS also gives
 * `RotationPeriodInDays` (the period EnableKeyRotation asked for, 365 days when it asked none) while rotation is on.
 */
const ROTATION_PERIOD_PRELUDE = `
import json as _json
from moto.kms.responses import KmsResponse

def _enable_key_rotation(self):
    key_id = self._get_param("KeyId")
    self._validate_cmk_id(key_id)
    self.kms_backend.enable_key_rotation(key_id)
    key = self.kms_backend.keys[self.kms_backend.get_key_id(key_id)]
    key.rotation_period_in_days = self._get_param("RotationPeriodInDays") or 365
    return _json.dumps(None)

def _get_key_rotation_status(self):
    key_id = self._get_param("KeyId")
    self._validate_cmk_id(key_id)
    key = self.kms_backend.keys[self.kms_backend.get_key_id(key_id)]
    answer = {"KeyRotationEnabled": key.key_rotation_status}
    if key.key_rotation_status:
        answer["RotationPeriodInDays"] = getattr(key, "rotation_period_in_days", 365)
    return _json.dumps(answer)

KmsResponse.enable_key_rotation = _enable_key_rotation
KmsResponse.get_key_rotation_status = _get_key_rotation_status
`;

const ACCEPT_ARNS_PRELUDE = `
from moto.cloudtrail.models import CloudTrailBackend
from moto.kms.models import KmsBackend

def _by_key_id(method):
    def patched(self, key_id, *args, **kwargs):
        return method(self, KmsBackend.get_key_id(key_id), *args, **kwargs)
    return patched

for _name in ('enable_key', 'disable_key', 'schedule_key_deletion', 'cancel_key_deletion'):
    setattr(KmsBackend, _name, _by_key_id(getattr(KmsBackend, _name)))

def _by_trail_name(method):
    def patched(self, name, *args, **kwargs):
        return method(self, self.get_trail(name).trail_name, *args, **kwargs)
    return patched

for _name in ('start_logging', 'stop_logging'):
    setattr(CloudTrailBackend, _name, _by_trail_name(getattr(CloudTrailBackend, _name)))
`;

const START_SERVER = `
from moto.server import main
main(sys.argv[1:])
`;

export async function startMoto(region = 'eu-west-1', options: StartMotoOptions = {}): Promise<Moto> {
  ensureMotoInstalled();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const prelude =
    ATOMIC_ITEMS_PRELUDE + ROTATION_PERIOD_PRELUDE + (options.acceptArns ? ACCEPT_ARNS_PRELUDE : '') + START_SERVER;
  const child = spawn('python3', ['-c', prelude, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (d) => {
    log = (log + d).slice(-4000);
  });
  child.stderr?.on('data', (d) => {
    log = (log + d).slice(-4000);
  });
  await waitUntilReady(endpoint, child, () => log);
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ENDPOINT_URL: endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  return {
    endpoint,
    port,
    clientConfig: { endpoint, region, credentials },
    env,
    aws(args: string[]): string {
      const result = spawnSync('aws', ['--endpoint-url', endpoint, '--region', region, ...args], {
        env,
        encoding: 'utf8',
      });
      if (result.status !== 0) throw new Error(`aws ${args.join(' ')} failed: ${result.stderr}`);
      return result.stdout;
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      });
    },
  };
}
