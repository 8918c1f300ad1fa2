import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createClusterCa, issueIdentity, loadGrpc, serverCredentials, writeIdentity, type ClusterCa } from '@pisched/api';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { service } from './fixtures';
import { freePort } from './helpers';

const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'packages/cli/bin/pisched.js');
const plainNamespaces = createRequire(__filename)('../../../scripts/plain-namespaces.js') as (text: string) => string;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** An admin bundle of a throwaway CA: these tests are about what happens before and at connecting. */
const tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-cli-tls-'));
/** An empty per-user config dir, so a developer's own ~/.config/pisched never plays a part. */
const emptyConfig = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-cli-config-'));
/** A preload that prints each call of net.isIPv6 and net.isIP that reaches the functions Node made. */
const ipCallRecorder = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-cli-ip-')), 'record-ip-checks.js');
fs.writeFileSync(
  ipCallRecorder,
  "const net = require('node:net');\n" +
    "for (const name of ['isIPv6', 'isIP']) {\n" +
    '  const original = net[name];\n' +
    '  net[name] = (input) => { process._rawDebug(`${name}(${input})`); return original(input); };\n' +
    '}\n',
);
/** A preload that prints, at exit, which of the Node modules the bundle loads only when used (lazy-builtins.js) were loaded. */
const lazyModulesReport = path.join(path.dirname(ipCallRecorder), 'report-lazy-modules.js');
fs.writeFileSync(
  lazyModulesReport,
  "process.on('exit', () => { const loaded = process.moduleLoadList.filter((m) => /^NativeModule (child_process|zlib)$/.test(m)); if (loaded.length) process._rawDebug(loaded.join(', ')); });\n",
);
/** The same for the Node modules only a call needs (gRPC's http2, tls, dns), which the bundle also loads when used. */
const callModulesReport = path.join(path.dirname(ipCallRecorder), 'report-call-modules.js');
fs.writeFileSync(
  callModulesReport,
  "process.on('exit', () => { const loaded = process.moduleLoadList.filter((m) => /^NativeModule (http2|https|tls|dns)$/.test(m)); process._rawDebug(`loaded: ${loaded.join(', ')}`); });\n",
);
/**
 * A preload that prints, at exit, which of gRPC's variables were read: grpc-js
 * reads them as it loads (its logging and environment modules), and nothing
 * else here does, so none means grpc-js never loaded, bundled or not.
 */
const grpcLoadReport = path.join(path.dirname(ipCallRecorder), 'report-grpc-js.js');
fs.writeFileSync(
  grpcLoadReport,
  'const read = new Set();\n' +
    "process.env = new Proxy(process.env, { get: (env, key) => { if (typeof key === 'string' && key.startsWith('GRPC_')) read.add(key); return Reflect.get(env, key); } });\n" +
    "process.on('exit', () => process._rawDebug(`grpc-js: ${read.size > 0 ? 'loaded' : 'not loaded'}`));\n",
);
/** A preload that prints, at exit, how many TLS contexts were made (the first one makes Node 20 build its root store). */
const secureContextCount = path.join(path.dirname(ipCallRecorder), 'count-secure-contexts.js');
fs.writeFileSync(
  secureContextCount,
  "const tls = require('node:tls'); const make = tls.createSecureContext; let made = 0;\n" +
    'tls.createSecureContext = (...args) => { made++; return make(...args); };\n' +
    "process.on('exit', () => process._rawDebug(`TLS contexts: ${made}`));\n",
);
afterAll(() => {
  for (const dir of [tlsDir, emptyConfig, path.dirname(ipCallRecorder)]) fs.rmSync(dir, { recursive: true, force: true });
});

function pisched(args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PISCHED_SCHEDULER: '', PISCHED_TLS_DIR: tlsDir, XDG_CONFIG_HOME: emptyConfig, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function oneLine(result: Result): string {
  const lines = result.stderr.split('\n');
  expect(lines, result.stderr).toHaveLength(2);
  expect(lines[1]).toBe('');
  return lines[0];
}

describe('the built pisched executable', () => {
  let unreachable: string;
  let ca: ClusterCa;

  beforeAll(async () => {
    // The bundle too: bin/pisched.js runs it (a bundle older than the build would send it to dist/main.js).
    execFileSync('npx', ['tsc', '-b', 'packages/cli'], { cwd: ROOT, stdio: 'inherit' });
    execFileSync(process.execPath, ['packages/cli/bundle.js'], { cwd: ROOT, stdio: 'inherit' });
    unreachable = `127.0.0.1:${await freePort()}`;
    ca = await createClusterCa();
    writeIdentity(tlsDir, 'admin', await issueIdentity(ca, 'admin', 'admin'));
  }, 120_000);

  it('says in one line where it looked when it finds no admin credentials for a scheduler that is up', async () => {
    // Anything accepting connections: the CLI finds it has no credentials before it speaks TLS.
    const listener = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const up = `127.0.0.1:${(listener.address() as net.AddressInfo).port}`;
    try {
      const result = await pisched(['--scheduler', up, 'ls'], { PISCHED_TLS_DIR: '' });
      expect(result.code).toBe(1);
      expect(oneLine(result)).toBe(
        `no admin credentials for ${up}: give --tls-dir DIR, set PISCHED_TLS_DIR, put ca.pem, admin.pem and admin.key in ${path.join(emptyConfig, 'pisched')}, or run on a scheduler's host (its data dir's admin/ is used)`,
      );
    } finally {
      listener.close();
    }
    // A scheduler that is down is what to say first: its credentials are found beside it once it runs again.
    const down = await pisched(['--scheduler', unreachable, 'ls'], { PISCHED_TLS_DIR: '' });
    expect(down.code).toBe(1);
    expect(oneLine(down)).toBe(`cannot reach scheduler at ${unreachable}: connection refused`);
    const named = await pisched(['--scheduler', unreachable, 'ls', '--tls-dir', emptyConfig]);
    expect(oneLine(named)).toBe(`--tls-dir ${emptyConfig} holds no admin credentials (ca.pem, admin.pem, admin.key)`);
  });

  it('says in one line that the scheduler cannot be reached, and exits 1', async () => {
    const result = await pisched(['--scheduler', unreachable, 'ls']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`cannot reach scheduler at ${unreachable}: connection refused\n`);
  });

  it('leaves Node\'s IPv6 expression (slow to compile) to text with a colon: grpc-js asks about every address it dials', async () => {
    const result = await pisched(['--scheduler', unreachable, 'ls'], {}, ['--require', ipCallRecorder]);
    expect(result.stderr).toBe(`cannot reach scheduler at ${unreachable}: connection refused\n`);
  });

  it('answers as Node does about IP addresses, asking Node\'s IPv6 check only about text with a colon', () => {
    const inputs = ['127.0.0.1', '10.0.0.256', 'pisched', 'localhost', '', '::1', 'fe80::1%eth0', '::ffff:10.0.0.1', '2001:db8::', '1:2', ':'];
    const script =
      "const net = require('node:net'); const node = inputs.map((s) => [net.isIP(s), net.isIPv6(s)]); process._rawDebug('quick');" +
      `require(${JSON.stringify(path.join(ROOT, 'packages/api/dist/quick-ip-checks.js'))});` +
      'console.log(JSON.stringify({ node, quick: inputs.map((s) => [net.isIP(s), net.isIPv6(s)]) }));';
    const run = spawnSync(process.execPath, ['--require', ipCallRecorder, '-e', `const inputs = ${JSON.stringify(inputs)}; ${script}`], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const { node, quick } = JSON.parse(run.stdout) as { node: unknown[]; quick: unknown[] };
    expect(quick).toEqual(node);
    expect(node).toContainEqual([6, true]);
    // What reached Node's own checks once the quick ones were in: the inputs with a colon (isIP and isIPv6 each), nothing else.
    const lines = run.stderr.split('\n');
    const after = lines.slice(lines.indexOf('quick') + 1).filter(Boolean);
    expect(after).toEqual(inputs.filter((s) => s.includes(':')).flatMap((s) => [`isIPv6(${s})`, `isIPv6(${s})`]));
  });

  it('loads neither child_process nor zlib to connect: the bundle has them load when used', async () => {
    const result = await pisched(['--scheduler', unreachable, 'ps'], {}, ['--require', lazyModulesReport]);
    expect(result.stderr).toBe(`cannot reach scheduler at ${unreachable}: connection refused\n`);
  });

  it('loads none of http2, https, tls and dns for a command that makes no call, and what a call needs when it makes one', async () => {
    const help = await pisched(['--help'], {}, ['--require', callModulesReport]);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('loaded: \n');
    const refused = await pisched(['run', '--name', 'web', '--replicas', '-1', 'busybox'], {}, ['--require', callModulesReport]);
    expect(refused.stderr).toMatch(/^invalid replicas "-1".*\nloaded: \n$/s);
    const call = await pisched(['--scheduler', unreachable, 'ls'], {}, ['--require', callModulesReport]);
    // A refused connection ends before HTTP/2 starts; the TLS context is made before dialling, and an IP address needs no dns.
    expect(call.stderr).toBe(`cannot reach scheduler at ${unreachable}: connection refused\nloaded: NativeModule tls\n`);
  });

  it('calls a scheduler on this machine over its control socket, without TLS, and over TLS when there is none', async () => {
    // A data dir as a scheduler leaves it: admin/ beside control/, with a socket named after the address; nothing listens on that port.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-cli-data-'));
    fs.cpSync(tlsDir, path.join(dataDir, 'admin'), { recursive: true });
    fs.mkdirSync(path.join(dataDir, 'control'), { mode: 0o700 });
    const address = `127.0.0.1:${await freePort()}`;
    const server = new grpc.Server();
    server.addService(loadGrpc().Control.service, {
      ListServices: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback(null, { services: [{ service: { ...service(), spec: { ...service().spec, name: 'over-the-socket' } }, desired: 1, running: 1 }] }),
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${path.join(dataDir, 'control', `${address}.sock`)}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
    );
    const env = { PISCHED_TLS_DIR: path.join(dataDir, 'admin') };
    try {
      const local = await pisched(['--scheduler', address, 'ls'], env, ['--require', callModulesReport, '--require', secureContextCount]);
      expect(local.stdout).toMatch(/over-the-socket/);
      // No TLS context (nor the root store Node 20 builds for the first one), and no name to resolve (no dns).
      expect(local.stderr).toBe('loaded: NativeModule tls, NativeModule http2\nTLS contexts: 0\n');
    } finally {
      server.forceShutdown();
    }
    // The scheduler stopped (its socket gone): TLS, to the port that does not answer.
    const remote = await pisched(['--scheduler', address, 'ls'], env, ['--require', secureContextCount]);
    expect(remote.stderr).toBe(`cannot reach scheduler at ${address}: connection refused\nTLS contexts: 1\n`);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('makes unary calls over TLS without loading grpc-js, which only a stream loads', async () => {
    // A server of this cluster's CA with a manager certificate, serving the Control API as a scheduler does.
    const server = new grpc.Server();
    const event = { timeMs: 1_700_000_000_000, type: 'service', action: 'create', id: 's1', name: 'streamed', attributes: {} };
    server.addService(loadGrpc().Control.service, {
      ListServices: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback(null, { services: [{ service: { ...service(), spec: { ...service().spec, name: 'over-tls' } }, desired: 1, running: 1 }] }),
      ListNodes: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, { nodes: [], heartbeatAgeMs: {} }),
      Events: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        call.write(event);
        call.end();
      },
    });
    const credentials = serverCredentials(await issueIdentity(ca, 's1', 'manager'), { requireClientCert: false });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    const address = `127.0.0.1:${port}`;
    try {
      for (const command of [['ls'], ['node', 'ls']]) {
        const unary = await pisched(['--scheduler', address, ...command], {}, ['--require', grpcLoadReport]);
        expect(unary.code, unary.stderr).toBe(0);
        expect(unary.stderr).toBe('grpc-js: not loaded\n');
        if (command[0] === 'ls') expect(unary.stdout).toMatch(/over-tls/);
      }
      const stream = await pisched(['--scheduler', address, 'events', '--json'], {}, ['--require', grpcLoadReport]);
      expect(stream.code, stream.stderr).toBe(0);
      expect(JSON.parse(stream.stdout)).toMatchObject({ type: 'service', action: 'create', name: 'streamed' });
      expect(stream.stderr).toBe('grpc-js: loaded\n');
    } finally {
      server.forceShutdown();
    }
  });

  it("gives a command's import() the module behind a plain namespace (the agent's rewrite), and the command still works", async () => {
    const bundle = fs.readFileSync(path.join(ROOT, 'packages/cli/dist/bundle/pisched.js'), 'latin1');
    expect(() => plainNamespaces(bundle)).toThrow(/esbuild's __toESM once in the bundle, found it 0 times/);
    // stack config imports the stack code, YAML and the schema validator.
    const config = await pisched(['stack', 'config', '--json', '-c', path.join(ROOT, 'packages/cli/test/stack-fixtures/override.yml')]);
    expect(config.code, config.stderr).toBe(0);
    expect(JSON.parse(config.stdout)).toHaveProperty('services');
  });

  it('takes --scheduler after the command too', async () => {
    const result = await pisched(['ls', '--json', '--scheduler', unreachable]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`cannot reach scheduler at ${unreachable}: connection refused\n`);
  });

  it('reads the address from PISCHED_SCHEDULER', async () => {
    const result = await pisched(['node', 'ls', '--json'], { PISCHED_SCHEDULER: unreachable });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`cannot reach scheduler at ${unreachable}: connection refused\n`);
  });

  it.each([
    [['run', '--name', 'web', '--replicas', '-1', 'busybox'], /^invalid replicas "-1"/],
    [['run', '--name', 'web', '--memory', '12Q', 'busybox'], /^invalid memory size "12Q"/],
    [['run', '--name', 'web', '--cpu', 'lots', 'busybox'], /^invalid CPU amount "lots"/],
    [['run', '--name', 'web', '-p', '80:70000', 'busybox'], /^invalid port mapping "80:70000"/],
    [['run', '--name', 'web', '--env', 'NOEQUALS', 'busybox'], /^invalid environment variable "NOEQUALS"/],
    [['run', '--name', 'dot.ted', 'busybox'], /^invalid service name "dot.ted"/],
    [['scale', 'web'], /^invalid scale argument "web"/],
    [['run', '--bogus', 'busybox'], /unknown option '--bogus'/],
    [['ls', '--wide'], /unknown option '--wide'/],
    [['nope'], /unknown command 'nope'/],
    [['events', '--filter', 'type=container'], /^invalid --filter "type=container": type is one of service, task, node, leader$/],
    [['events', '--since', 'yesterday'], /^invalid --since "yesterday"/],
  ])('refuses %j with one line and sends nothing', async (args, message) => {
    // Against an unreachable scheduler: had anything been sent, the error would be "cannot reach".
    const result = await pisched(['--scheduler', unreachable, ...args]);
    expect(result.code).not.toBe(0);
    expect(oneLine(result)).toMatch(message);
  });

  it('passes everything after IMAGE to the container, flags included', async () => {
    // The command's own "--replicas -1" must not be read as ours: validation passes and the CLI goes on to connect.
    const result = await pisched(['--scheduler', unreachable, 'run', '--name', 'web', 'busybox', 'sh', '-c', 'x', '--replicas', '-1']);
    expect(result.code).toBe(1);
    expect(oneLine(result)).toBe(`cannot reach scheduler at ${unreachable}: connection refused`);
  });

  it('events: an unreachable scheduler is one line, not a silent wait', async () => {
    const result = await pisched(['--scheduler', unreachable, 'events', '--json']);
    expect(result.code).toBe(1);
    expect(oneLine(result)).toBe(`cannot reach scheduler at ${unreachable}: connection refused`);
  });
});
