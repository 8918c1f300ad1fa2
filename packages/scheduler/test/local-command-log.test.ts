import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { Store } from '../src/store/store';
import { LocalCommandLog } from '../src/store/local-command-log';
import { spec } from './fixtures';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-log-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function putService(id: string, name: string, version = 0) {
  return [{ action: 'putService' as const, putService: { id, meta: { version, createdAt: 1, updatedAt: 1 }, spec: spec(name, 2), previousSpec: null, updateStatus: null } }];
}

describe('LocalCommandLog', () => {
  it('gives a restarted scheduler every change it acknowledged', async () => {
    const dir = tempDir();
    const store = new Store();
    const log = new LocalCommandLog(dir, store);
    await store.update(() => putService('a', 'web'));
    await store.update(() => putService('b', 'db'));
    await store.update((state) => [{ action: 'removeService', removeService: state.services.get('a')!.id }]);
    log.close();

    const reopened = new Store();
    const log2 = new LocalCommandLog(dir, reopened);
    expect([...reopened.state.services.keys()]).toEqual(['b']);
    expect(reopened.state.appliedIndex).toBe(3);
    log2.close();
  });

  it('compacts into a snapshot and still restores the same state', async () => {
    const dir = tempDir();
    const store = new Store();
    const log = new LocalCommandLog(dir, store);
    for (let i = 0; i < 1100; i++) {
      await store.update((state) => putService('a', 'web', state.services.get('a')?.meta?.version ?? 0));
    }
    log.close();
    const db = new Database(path.join(dir, 'state.db'));
    const rows = (db.prepare('SELECT COUNT(*) AS n FROM log').get() as { n: number }).n;
    db.close();
    expect(rows).toBeLessThan(1000);

    const reopened = new Store();
    const log2 = new LocalCommandLog(dir, reopened);
    expect(reopened.state.appliedIndex).toBe(1100);
    expect(reopened.state.services.get('a')!.meta!.version).toBe(1100);
    log2.close();
  });

  it('refuses to open a log with a hole in it', async () => {
    const dir = tempDir();
    const store = new Store();
    const log = new LocalCommandLog(dir, store);
    for (const name of ['a', 'b', 'c']) await store.update(() => putService(name, name));
    log.close();
    const db = new Database(path.join(dir, 'state.db'));
    db.prepare('DELETE FROM log WHERE idx = 2').run();
    db.close();
    expect(() => new LocalCommandLog(dir, new Store())).toThrow(/state log is corrupt: expected entry 2, found 3/);
  });

  it('refuses a file that is not a database, with a clear error', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'state.db'), 'this is not sqlite'.repeat(100));
    expect(() => new LocalCommandLog(dir, new Store())).toThrow(/cannot open state in .*state\.db/);
  });

  it('rejects a stale write without losing what was stored', async () => {
    const dir = tempDir();
    const store = new Store();
    const log = new LocalCommandLog(dir, store);
    await store.update(() => putService('a', 'web'));
    await expect(store.update(() => putService('a', 'web', 0))).rejects.toThrow(/changed since it was read/);
    expect(store.state.services.get('a')!.meta!.version).toBe(1);
    log.close();
  });
});
