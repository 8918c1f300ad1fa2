import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

/** Where a snapshot's data lives, as the storage's meta row records it. */
export interface SnapshotFileRef {
  index: number;
  /** File name in the database's directory; '' for empty data (no file). */
  name: string;
  length: number;
  crc: number;
}

/** Bytes checksummed per event-loop turn while a snapshot is prepared in the background. */
const CRC_SLICE = 1 << 20;

/**
 * A snapshot's data kept in a file of its own next to the database (etcd's snap/ files), not
 * as a blob in it: a blob of tens of megabytes written inside the storage's transaction blocks
 * the event loop for hundreds of milliseconds, while a file can be written and fsynced on
 * libuv's thread pool. The file is durable and renamed into place before the transaction that
 * records it commits, so the database never names a missing or partial file.
 */
export class SnapshotFiles {
  private readonly dir: string;
  private readonly prefix: string;

  constructor(dbPath: string) {
    this.dir = path.dirname(dbPath);
    this.prefix = `${path.basename(dbPath)}.snap-`;
  }

  private nameOf(index: number): string {
    return `${this.prefix}${index}`;
  }

  /** Writes and fsyncs `data` off the event loop; the returned ref may then be recorded. */
  async write(index: number, data: Uint8Array): Promise<SnapshotFileRef> {
    if (data.length === 0) return { index, name: '', length: 0, crc: 0 };
    let crc = 0;
    for (let at = 0; at < data.length; at += CRC_SLICE) {
      crc = zlib.crc32(data.subarray(at, at + CRC_SLICE), crc);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const name = this.nameOf(index);
    const tmp = path.join(this.dir, `${name}.tmp`);
    const fh = await fs.promises.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, path.join(this.dir, name));
    const dh = await fs.promises.open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
    return { index, name, length: data.length, crc: crc >>> 0 };
  }

  /** The same as write(), blocking: for a snapshot that arrives within a Ready. */
  writeSync(index: number, data: Uint8Array): SnapshotFileRef {
    if (data.length === 0) return { index, name: '', length: 0, crc: 0 };
    const name = this.nameOf(index);
    const tmp = path.join(this.dir, `${name}.tmp`);
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(this.dir, name));
    const dfd = fs.openSync(this.dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
    return { index, name, length: data.length, crc: zlib.crc32(data) >>> 0 };
  }

  /** Reads a recorded file back; undefined with the reason when it is missing or does not match. */
  read(ref: SnapshotFileRef): { data: Uint8Array } | { problem: string } {
    if (ref.name === '') return { data: new Uint8Array(0) };
    let data: Buffer;
    try {
      data = fs.readFileSync(path.join(this.dir, ref.name));
    } catch (e) {
      return { problem: `snapshot file ${ref.name} cannot be read: ${(e as Error).message}` };
    }
    if (data.length !== ref.length) return { problem: `snapshot file ${ref.name} has ${data.length} bytes, ${ref.length} recorded` };
    if ((zlib.crc32(data) >>> 0) !== ref.crc) return { problem: `checksum mismatch in snapshot file ${ref.name}` };
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  }

  /**
   * Removes every snapshot file of this database but `keep` (and those being written, `busy`):
   * ones replaced by a newer snapshot, ones a crash left unrecorded, and half-written ones.
   */
  removeAllBut(keep: string, busy: ReadonlySet<number> = new Set()): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(this.prefix) || name === keep) continue;
      const index = Number(name.slice(this.prefix.length).replace(/\.tmp$/, ''));
      if (busy.has(index)) continue;
      fs.rmSync(path.join(this.dir, name), { force: true });
    }
  }
}
