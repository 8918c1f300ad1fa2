import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensurePrivateDir, writePrivateFile } from '../src/security/private-files';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('private files', () => {
  it('makes a directory, new or existing, owner-only', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-priv-'));
    dirs.push(base);
    const fresh = path.join(base, 'a', 'b');
    ensurePrivateDir(fresh);
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o700);
    fs.chmodSync(base, 0o755);
    ensurePrivateDir(base);
    expect(fs.statSync(base).mode & 0o777).toBe(0o700);
  });

  it('writes key files 0600, replacing an older one whole', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-priv-'));
    dirs.push(base);
    const file = path.join(base, 'tls', 'node.key');
    writePrivateFile(file, 'first');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    writePrivateFile(file, 'second');
    expect(fs.readFileSync(file, 'utf8')).toBe('second');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['node.key']);
  });
});
