import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { SecretMounts, MissingFileError, type MountSystem } from '../src/secret-mounts';
import { makeTask } from './fixtures';

/** Records mounts instead of making them (unit tests cannot mount); the e2e test mounts for real. */
function fakeMounts(): MountSystem & { mounted: string[]; calls: string[] } {
  const system = {
    mounted: [] as string[],
    calls: [] as string[],
    async mountTmpfs(dir: string, size: number) {
      system.calls.push(`mount ${path.basename(dir)} ${size}`);
      system.mounted.push(dir);
    },
    async unmount(dir: string) {
      system.calls.push(`umount ${path.basename(dir)}`);
      system.mounted = system.mounted.filter((point) => point !== dir);
    },
    mountPoints: () => [...system.mounted],
  };
  return system;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function setup() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-secret-mounts-'));
  dirs.push(root);
  const system = fakeMounts();
  return { root, system, files: new SecretMounts(root, pino({ level: 'silent' }), system) };
}

const taskUsing = (id: string) => makeTask({
  id,
  spec: { container: { image: 'x', secrets: [{ source: 'db', target: '/run/secrets/db', uid: process.getuid!(), gid: process.getgid!(), mode: 0o400 }], configs: [{ source: 'conf', target: '/conf', uid: process.getuid!(), gid: process.getgid!(), mode: 0o444 }] } } as never,
});

describe('SecretMounts', () => {
  it('mounts a tmpfs per task, writes each file with its mode and bind-mounts it read-only at its target', async () => {
    const { root, system, files } = setup();
    files.setValues([{ name: 'db', data: Buffer.from('pw') }], [{ name: 'conf', data: Buffer.from('a=1') }]);
    const mounts = await files.prepare(taskUsing('t1'));
    expect(system.calls).toEqual([`mount t1 ${1 << 20}`]);
    expect(mounts).toEqual([
      { Type: 'bind', Source: path.join(root, 't1', 'secret-0'), Target: '/run/secrets/db', ReadOnly: true },
      { Type: 'bind', Source: path.join(root, 't1', 'config-1'), Target: '/conf', ReadOnly: true },
    ]);
    expect(fs.readFileSync(mounts[0].Source!, 'utf8')).toBe('pw');
    expect(fs.statSync(mounts[0].Source!).mode & 0o777).toBe(0o400);
    expect(fs.statSync(mounts[1].Source!).mode & 0o777).toBe(0o444);
  });

  it('makes nothing for a task without files, and rejects one whose value was not sent', async () => {
    const { system, files } = setup();
    expect(await files.prepare(makeTask({ id: 't0' }))).toEqual([]);
    await expect(files.prepare(taskUsing('t1'))).rejects.toThrow(new MissingFileError('secret db was not given to this node'));
    expect(system.calls).toEqual([]);
  });

  it('unmounts and removes a task\'s directory on release, and every one but those kept on releaseAllBut', async () => {
    const { root, system, files } = setup();
    files.setValues([{ name: 'db', data: Buffer.from('pw') }], [{ name: 'conf', data: Buffer.from('a=1') }]);
    await files.prepare(taskUsing('t1'));
    await files.prepare(taskUsing('t2'));
    await files.release('t1');
    expect(fs.readdirSync(root)).toEqual(['t2']);
    await files.prepare(taskUsing('t3'));
    await files.releaseAllBut(new Set(['t3']));
    expect(fs.readdirSync(root)).toEqual(['t3']);
    expect(system.mounted).toEqual([path.join(root, 't3')]);
    // A container without a task label has nothing to release.
    await files.release('');
  });
});
