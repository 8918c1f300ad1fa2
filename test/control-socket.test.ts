import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, startScheduler, tempDir, type SchedulerHandle } from './harness';

/** A preload that prints, at exit, how many TLS contexts the CLI made: none over the local socket. */
const preload = path.join(tempDir('csock-preload'), 'count-secure-contexts.js');
fs.writeFileSync(
  preload,
  "const tls = require('node:tls'); const make = tls.createSecureContext; let made = 0;\n" +
    'tls.createSecureContext = (...args) => { made++; return make(...args); };\n' +
    "process.on('exit', () => process._rawDebug(`TLS contexts: ${made}`));\n",
);

const schedulers: SchedulerHandle[] = [];
afterAll(async () => {
  for (const scheduler of schedulers) await scheduler.daemon.stop();
});

/** `pisched ls` as a user on the scheduler's host types it, with its data dir's admin bundle. */
function ls(scheduler: SchedulerHandle) {
  return spawnSync(process.execPath, ['--require', preload, BIN.cli, 'ls'], {
    encoding: 'utf8',
    env: { ...process.env, PISCHED_SCHEDULER: scheduler.address, PISCHED_TLS_DIR: path.join(scheduler.dataDir, 'admin') },
  });
}

describe('the scheduler\'s local control socket', () => {
  it('is served owner-only in the data dir, the CLI on the host calls over it without TLS, and it goes with the scheduler', async () => {
    const scheduler = await startScheduler();
    schedulers.push(scheduler);
    const socket = path.join(scheduler.dataDir, 'control', `${scheduler.address}.sock`);
    expect(fs.lstatSync(socket).isSocket()).toBe(true);
    expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(socket)).mode & 0o777).toBe(0o700);
    const call = ls(scheduler);
    expect(call.status, call.stderr).toBe(0);
    expect(call.stdout).toMatch(/^ID +NAME/);
    expect(call.stderr).toBe('TLS contexts: 0\n');
    await scheduler.daemon.stop();
    expect(fs.existsSync(socket)).toBe(false);
  }, 60_000);

  it('is not served with --no-control-socket, and the CLI calls over TLS', async () => {
    const scheduler = await startScheduler({ extraArgs: ['--no-control-socket'] });
    schedulers.push(scheduler);
    expect(fs.existsSync(path.join(scheduler.dataDir, 'control'))).toBe(false);
    const call = ls(scheduler);
    expect(call.status, call.stderr).toBe(0);
    expect(call.stderr).toBe('TLS contexts: 1\n');
  }, 60_000);
});
