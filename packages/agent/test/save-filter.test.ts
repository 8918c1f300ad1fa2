import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { SaveFilter } from '../src/images/save-filter';
import { LEGACY_DIFF_IDS, LEGACY_LAYERS } from './legacy-save-fixture';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-save-filter-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const hex = (char: string) => char.repeat(64);

/** A tar made by GNU tar from these files, in name order as `docker save` writes them. */
function makeTar(name: string, files: Record<string, string | Buffer>, format: 'gnu' | 'posix'): Buffer {
  const root = path.join(dir, name);
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), content);
  }
  const tar = path.join(dir, `${name}.tar`);
  // Named from the top, no "./" in front: as docker save names them.
  execFileSync('tar', [`--format=${format}`, '--sort=name', '-cf', tar, '-C', root, ...fs.readdirSync(root).sort()]);
  return fs.readFileSync(tar);
}

/** Each entry's name and byte range (its extended headers included), as GNU tar lists them. */
function entries(tar: Buffer, name: string): Array<{ name: string; start: number; end: number }> {
  const file = path.join(dir, `${name}.listed.tar`);
  fs.writeFileSync(file, tar);
  const listed = execFileSync('tar', ['-tvR', '-f', file]).toString().split('\n');
  const out: Array<{ name: string; start: number; end: number }> = [];
  let end = 0;
  for (const line of listed) {
    const match = /^block (\d+): \S+ \S+\s+(\d+) \S+ \S+ (.+)$/.exec(line);
    if (!match) continue;
    const next = (Number(match[1]) + 1 + Math.ceil(Number(match[2]) / 512)) * 512;
    out.push({ name: match[3], start: end, end: next });
    end = next;
  }
  return out;
}

/** The tar with these entries cut out: what the filter must give, byte for byte. */
function without(tar: Buffer, name: string, dropped: string[]): Buffer {
  const cut = entries(tar, name).filter((entry) => dropped.includes(entry.name));
  expect(cut.map((entry) => entry.name).sort()).toEqual([...dropped].sort());
  const parts: Buffer[] = [];
  let at = 0;
  for (const entry of cut) {
    parts.push(tar.subarray(at, entry.start));
    at = entry.end;
  }
  parts.push(tar.subarray(at));
  return Buffer.concat(parts);
}

/** Runs a tar through the filter in chunks of the given size (headers and data split across chunks). */
async function filter(tar: Buffer, diffIds: string[], skip: number, chunk: number): Promise<{ out: Buffer; filter: SaveFilter }> {
  const pieces: Buffer[] = [];
  for (let at = 0; at < tar.length; at += chunk) pieces.push(tar.subarray(at, at + chunk));
  const saveFilter = new SaveFilter(diffIds, skip);
  const out: Buffer[] = [];
  const stream = Readable.from(pieces).pipe(saveFilter);
  for await (const part of stream) out.push(part as Buffer);
  return { out: Buffer.concat(out), filter: saveFilter };
}

describe('leaving held layers out of a docker save', () => {
  const layer = (seed: string) => Buffer.alloc(3000 + seed.charCodeAt(0), seed);

  for (const format of ['gnu', 'posix'] as const) {
    it(`drops the blobs of the first layers of an OCI save and keeps the rest byte for byte (${format} headers)`, async () => {
      const diffIds = [`sha256:${hex('a')}`, `sha256:${hex('b')}`, `sha256:${hex('c')}`];
      const tar = makeTar(`oci-${format}`, {
        [`blobs/sha256/${hex('a')}`]: layer('a'),
        [`blobs/sha256/${hex('b')}`]: layer('b'),
        [`blobs/sha256/${hex('c')}`]: layer('c'),
        [`blobs/sha256/${hex('d')}`]: '{"config":true}',
        'index.json': '{}',
        'manifest.json': '[]',
        'oci-layout': '{"imageLayoutVersion":"1.0.0"}',
      }, format);
      for (const chunk of [7, 512, 4096, 1 << 20]) {
        const { out, filter: used } = await filter(tar, diffIds, 2, chunk);
        const expected = without(tar, `oci-${format}`, [`blobs/sha256/${hex('a')}`, `blobs/sha256/${hex('b')}`]);
        expect(out.equals(expected), `chunks of ${chunk}`).toBe(true);
        expect(used.dropped).toEqual({ entries: 2, bytes: tar.length - expected.length });
      }
      expect((await filter(tar, diffIds, 0, 4096)).out.equals(tar)).toBe(true);
      // The same content as a layer above the skipped ones: its one blob is still needed.
      const repeated = await filter(tar, [diffIds[0], diffIds[1], diffIds[0]], 2, 4096);
      expect(repeated.out.equals(without(tar, `oci-${format}`, [`blobs/sha256/${hex('b')}`]))).toBe(true);
    });
  }

  it('drops the layer.tar of the first layers of a legacy save, placed by the json before it', async () => {
    // The layer.tar contents do not matter to the filter: a legacy directory is placed by its name and json.
    const files: Record<string, string | Buffer> = { 'manifest.json': '[]', repositories: '{}' };
    for (const [index, { directory, json }] of LEGACY_LAYERS.entries()) {
      files[`${directory}/VERSION`] = '1.0';
      files[`${directory}/json`] = json;
      files[`${directory}/layer.tar`] = layer(String(index));
    }
    const tar = makeTar('legacy', files, 'gnu');
    const { out, filter: used } = await filter(tar, LEGACY_DIFF_IDS, 2, 1000);
    expect(out.equals(without(tar, 'legacy', LEGACY_LAYERS.slice(0, 2).map(({ directory }) => `${directory}/layer.tar`)))).toBe(true);
    expect(used.dropped.entries).toBe(2);
    // With another base the names do not match: everything is sent.
    const rebased = await filter(tar, [`sha256:${hex('e')}`, ...LEGACY_DIFF_IDS.slice(1)], 2, 1000);
    expect(rebased.out.equals(tar)).toBe(true);
  });

  it('passes on what is not a tar it can read, unchanged', async () => {
    const junk = Buffer.concat([Buffer.alloc(512, 'x'), Buffer.from('tail')]);
    expect((await filter(junk, [`sha256:${hex('a')}`], 1, 100)).out.equals(junk)).toBe(true);
  });
});
