import { Transform, type TransformCallback } from 'node:stream';
import { chainIds } from './layer-chain';
import { legacyLayerIndex } from './legacy-layer-id';

const BLOCK = 512;
/** Extended headers and a legacy layer's `json` are a few KiB; anything larger is not what this expects, and is passed on as is. */
const SMALL_ENTRY = 1024 * 1024;

const OCI_BLOB = /^blobs\/sha256\/([0-9a-f]{64})$/;
const LEGACY_JSON = /^([0-9a-f]{64})\/json$/;
const LEGACY_LAYER = /^([0-9a-f]{64})\/layer\.tar$/;

interface Entry {
  /** The header blocks (and extended headers before them) and the data held back until the entry is placed. */
  held: Buffer[];
  /** Bytes of data and padding still to come. */
  remaining: number;
  size: number;
  mode: 'pass' | 'drop' | 'meta';
  /** The data kept to read (extended headers, a legacy layer's json). */
  collect?: Buffer[];
  name: string;
  type: string;
}

/**
 * A `docker save` tar with the files of its first `skip` layers left out, for
 * a receiver whose engine holds those layers already (`docker load` looks a
 * layer up by chain id before it opens its file). Streamed: entries pass
 * through as they come, byte for byte; only whole entries are dropped, so what
 * remains is a valid tar. Both layouts: OCI (`blobs/sha256/<diff id>`, an
 * uncompressed layer's blob digest is its diff id) and legacy
 * (`<v1 id>/layer.tar`, placed by the directory's `json` just before it). A
 * layer it cannot place is sent; a tar it cannot read goes on unfiltered.
 */
export class SaveFilter extends Transform {
  /** What was left out: entries (with their headers) and bytes. */
  readonly dropped = { entries: 0, bytes: 0 };
  private readonly skippedDiffIds: Set<string>;
  private readonly skippedChains: string[];
  private readonly legacyDrop = new Set<string>();
  private header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private entry: Entry | undefined;
  /** Extended headers (pax "x", GNU "L"/"K") seen before the entry they describe. */
  private meta: Buffer[] = [];
  private metaName: string | undefined;
  private unreadable = false;

  constructor(diffIds: readonly string[], skip: number) {
    super();
    // A blob an unskipped layer also names (the same content twice in one image) must still come.
    const kept = new Set(diffIds.slice(skip));
    this.skippedDiffIds = new Set(diffIds.slice(0, skip).filter((diffId) => !kept.has(diffId)));
    this.skippedChains = chainIds(diffIds).slice(0, skip);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.unreadable) return callback(null, chunk);
    let offset = 0;
    while (offset < chunk.length) {
      if (this.entry) {
        const n = Math.min(this.entry.remaining, chunk.length - offset);
        this.entryData(chunk.subarray(offset, offset + n));
        offset += n;
        continue;
      }
      const n = Math.min(BLOCK - this.headerFill, chunk.length - offset);
      chunk.copy(this.header, this.headerFill, offset, offset + n);
      this.headerFill += n;
      offset += n;
      if (this.headerFill < BLOCK) continue;
      this.headerFill = 0;
      const block = this.header;
      this.header = Buffer.alloc(BLOCK);
      try {
        this.startEntry(block);
      } catch {
        // Not a tar this can read: what was held goes on, then this header and everything after it.
        this.unreadable = true;
        this.releaseHeld();
        this.push(block);
        this.push(chunk.subarray(offset));
        break;
      }
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    // A tar cut short (the save failed) goes on as it is: the receiver's load refuses it.
    this.releaseHeld();
    if (this.headerFill > 0) this.push(this.header.subarray(0, this.headerFill));
    callback();
  }

  private releaseHeld(): void {
    for (const part of this.meta) this.push(part);
    this.meta = [];
    if (this.entry && this.entry.mode !== 'drop') for (const part of this.entry.held) this.push(part);
    if (this.entry) this.entry.held = [];
  }

  private startEntry(block: Buffer): void {
    if (block.every((byte) => byte === 0)) {
      this.push(block);
      return;
    }
    const type = String.fromCharCode(block[156]);
    const size = entrySize(block);
    const name = this.metaName ?? headerName(block);
    const entry: Entry = { held: [block], remaining: Math.ceil(size / BLOCK) * BLOCK, size, mode: 'pass', name, type };
    if (type === 'x' || type === 'L' || type === 'K') {
      if (size > SMALL_ENTRY) throw new Error('extended header too large');
      entry.mode = 'meta';
      entry.collect = [];
    } else {
      this.metaName = undefined;
      if (this.drops(name, type)) {
        entry.mode = 'drop';
        this.dropped.entries++;
        this.dropped.bytes += BLOCK + entry.remaining + this.meta.reduce((sum, part) => sum + part.length, 0);
        this.meta = [];
      } else {
        for (const part of this.meta) this.push(part);
        this.meta = [];
        this.push(block);
      }
      entry.held = [];
      if (LEGACY_JSON.test(name) && size <= SMALL_ENTRY && this.skippedChains.length > 0) entry.collect = [];
    }
    this.entry = entry;
    if (entry.remaining === 0) this.finishEntry();
  }

  private entryData(part: Buffer): void {
    const entry = this.entry!;
    if (entry.mode === 'pass') this.push(part);
    else if (entry.mode === 'meta') entry.held.push(Buffer.from(part));
    entry.collect?.push(Buffer.from(part));
    entry.remaining -= part.length;
    if (entry.remaining === 0) this.finishEntry();
  }

  private finishEntry(): void {
    const entry = this.entry!;
    this.entry = undefined;
    const content = entry.collect ? Buffer.concat(entry.collect).subarray(0, entry.size) : undefined;
    if (entry.mode === 'meta') {
      this.meta.push(...entry.held);
      if (entry.type === 'x') this.metaName = paxPath(content!) ?? this.metaName;
      else if (entry.type === 'L') this.metaName = content!.toString('utf8').replace(/\0.*$/s, '');
      return;
    }
    const json = LEGACY_JSON.exec(entry.name);
    if (json && content && legacyLayerIndex(json[1], content.toString('utf8'), this.skippedChains) >= 0) this.legacyDrop.add(json[1]);
  }

  private drops(name: string, type: string): boolean {
    if (type !== '0' && type !== '\0') return false;
    const blob = OCI_BLOB.exec(name);
    if (blob) return this.skippedDiffIds.has(`sha256:${blob[1]}`);
    const layer = LEGACY_LAYER.exec(name);
    return layer !== null && this.legacyDrop.has(layer[1]);
  }
}

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString('utf8');
}

function headerName(block: Buffer): string {
  const name = field(block, 0, 100);
  // POSIX ustar keeps long names' leading part in "prefix"; GNU tar ("ustar  ") uses those bytes otherwise.
  const prefix = block.subarray(257, 263).toString('latin1') === 'ustar\0' ? field(block, 345, 155) : '';
  return prefix ? `${prefix}/${name}` : name;
}

function entrySize(block: Buffer): number {
  // Base-256 (GNU) for sizes past 8 GiB: the first byte's high bit set.
  if (block[124] & 0x80) {
    let size = 0;
    for (let i = 125; i < 136; i++) size = size * 256 + block[i];
    return size;
  }
  const text = field(block, 124, 12).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`bad size field "${text}"`);
  return text === '' ? 0 : parseInt(text, 8);
}

/** The "path" record of a pax extended header ("<length> path=<name>\n"). */
function paxPath(content: Buffer): string | undefined {
  let at = 0;
  let path: string | undefined;
  while (at < content.length) {
    const space = content.indexOf(0x20, at);
    if (space < 0) break;
    const length = parseInt(content.subarray(at, space).toString('latin1'), 10);
    if (!(length > 0)) break;
    const record = content.subarray(space + 1, at + length - 1).toString('utf8');
    if (record.startsWith('path=')) path = record.slice(5);
    at += length;
  }
  return path;
}
