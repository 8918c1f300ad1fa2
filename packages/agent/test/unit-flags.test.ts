import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createClusterCa, issueServerIdentity } from '@pisched/api';
import { describe, expect, it } from 'vitest';
import { unitEnvironment, unitNodeFlags } from '../../../test/unit-node-flags';

// The agent's systemd unit (packaging/systemd/pisched-agent.service) gives
// node the flags the end-to-end tests and bench:footprint start it with.
const FLAGS = unitNodeFlags('pisched-agent.service');
const AGENT = path.resolve(__dirname, '..');

function underUnitFlags(script: string): string {
  const run = spawnSync(process.execPath, [...FLAGS, '-e', script], { cwd: AGENT, encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return run.stdout.trim();
}

describe('the agent unit\'s node flags', () => {
  it('leave WebAssembly out, and protobufjs\'s 64-bit integers (long) still compute, in JavaScript', () => {
    // long compiles a small WebAssembly module when it loads, which made the
    // agent touch 0.7 MiB of V8's WebAssembly code in the node executable.
    expect(underUnitFlags('process.stdout.write(typeof WebAssembly)')).toBe('undefined');
    const product = underUnitFlags("const Long = require('long'); process.stdout.write(Long.fromString('9007199254740993').mul(3).div(7).toString())");
    expect(product).toBe(((9007199254740993n * 3n) / 7n).toString());
  });

  it('scavenge the young generation once a tenth of it is used, not four fifths', () => {
    // V8 gives the young generation's pages back after a scavenge when little
    // is allocated, and an idle agent touches them again until the next one:
    // the later it comes, the higher its RSS climbs in between. Here 400 KiB
    // of short-lived objects, 10 KiB a turn of the event loop, in a young
    // generation of 1 MiB: V8's default (80 %) makes no scavenge of them.
    const script = `
      const { PerformanceObserver, constants } = require('node:perf_hooks');
      let scavenges = 0;
      new PerformanceObserver((list) => { for (const entry of list.getEntries()) if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++; }).observe({ entryTypes: ['gc'] });
      let allocated = 0;
      (function turn() {
        if (allocated >= 400 * 1024) return setTimeout(() => process.stdout.write(String(scavenges)), 100);
        const garbage = [];
        for (let i = 0; i < 160; i++) garbage.push({ i });
        allocated += 10 * 1024;
        setImmediate(turn);
      })();`;
    expect(Number(underUnitFlags(script))).toBeGreaterThanOrEqual(3);
  });
});

describe("the agent unit's environment", () => {
  it("fixes malloc's thresholds at glibc's defaults, so that freed memory goes back to the system", () => {
    // This process's dynamic loader (node's ELF interpreter) reports the tunables it would apply under that environment.
    const loader = /\s(\/\S*\/ld-linux[^/\s]*\.so[.\d]*)$/m.exec(fs.readFileSync('/proc/self/maps', 'utf8'))?.[1];
    if (loader === undefined) throw new Error('no ld-linux in /proc/self/maps: not a glibc system');
    const run = spawnSync(loader, ['--list-tunables'], { encoding: 'utf8', env: { ...unitEnvironment('pisched-agent.service') } });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^glibc\.malloc\.mmap_threshold: 0x20000 /m);
    expect(run.stdout).toMatch(/^glibc\.malloc\.trim_threshold: 0x20000 /m);
  });
});

/**
 * What a client under the unit's flags and `env` makes of a TLS server on
 * loopback when it trusts Node's root store alone (no `ca` of its own):
 * 'trusted', or OpenSSL's reason. Run apart (spawn, not spawnSync): the
 * server is in this process.
 */
async function rootStoreVerdict(server: { certPem: string; keyPem: string }, env: NodeJS.ProcessEnv): Promise<string> {
  const listener = tls.createServer({ cert: server.certPem, key: server.keyPem }, (socket) => socket.end());
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = listener.address() as AddressInfo;
    const script = `const s = require('node:tls').connect({ host: '127.0.0.1', port: ${port}, servername: 'pisched', rejectUnauthorized: false }, () => { process.stdout.write(s.authorized ? 'trusted' : String(s.authorizationError)); s.destroy(); });`;
    const child = spawn(process.execPath, [...FLAGS, '-e', script], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await new Promise((resolve) => child.on('exit', resolve));
    return out;
  } finally {
    listener.close();
  }
}

describe("the agent unit's root store", () => {
  // Node 20 builds its root store the first time any CA is given, even for a
  // context with a CA of its own that never reads it: with Node's 140-odd
  // bundled roots, 1 MiB of the idle agent's malloc heap.
  it("is read from OpenSSL's paths (--use-openssl-ca), not built from the roots bundled in node", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'unit-ca-'));
    try {
      const ca = await createClusterCa();
      const caFile = path.join(dir, 'ca.pem');
      fs.writeFileSync(caFile, ca.certPem);
      // Only a store read from SSL_CERT_FILE can hold a CA made just now.
      const verdict = await rootStoreVerdict(await issueServerIdentity(ca, 'pisched', ['127.0.0.1']), { SSL_CERT_FILE: caFile, SSL_CERT_DIR: dir });
      expect(verdict).toBe('trusted');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is empty under the unit's environment: OpenSSL's certificate paths hold no certificate", () => {
    const env = unitEnvironment('pisched-agent.service');
    for (const name of ['SSL_CERT_FILE', 'SSL_CERT_DIR']) {
      expect(env[name], name).toBeDefined();
      expect(fs.readFileSync(env[name]!, 'utf8'), name).toBe('');
    }
  });
});
