import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
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
