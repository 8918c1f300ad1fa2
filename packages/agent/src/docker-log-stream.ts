import { StringDecoder } from 'node:string_decoder';

/**
 * Docker's log output, parsed. Without a TTY the engine multiplexes stdout and
 * stderr into one byte stream of frames: an 8-byte header (stream type, three
 * zero bytes, payload length as big-endian uint32), then the payload. A frame
 * need not end on a line boundary, so payloads are joined per stream before
 * lines are cut.
 */

export type LogStream = 'stdout' | 'stderr';

export interface LogLine {
  stream: LogStream;
  /** RFC 3339, UTC, nine fraction digits: text order is time order. Empty when the engine gave none. */
  timestamp: string;
  line: string;
}

const HEADER_BYTES = 8;
const STREAM_TYPES: Record<number, LogStream | undefined> = { 1: 'stdout', 2: 'stderr' };

/** Splits a multiplexed log buffer into each stream's bytes, in order; a truncated last frame is kept as far as it goes. */
export function demultiplex(buffer: Buffer): Record<LogStream, Buffer> {
  const parts: Record<LogStream, Buffer[]> = { stdout: [], stderr: [] };
  let offset = 0;
  while (offset + HEADER_BYTES <= buffer.length) {
    const stream = STREAM_TYPES[buffer[offset]];
    const size = buffer.readUInt32BE(offset + 4);
    const start = offset + HEADER_BYTES;
    const payload = buffer.subarray(start, Math.min(start + size, buffer.length));
    // Type 0 (stdin) is never written for a container's output; 3 carries engine errors: shown as stderr.
    (parts[stream ?? 'stderr']).push(payload);
    offset = start + size;
  }
  return { stdout: Buffer.concat(parts.stdout), stderr: Buffer.concat(parts.stderr) };
}

/** Whether a buffer starts like a multiplexed stream rather than raw TTY output. */
export function isMultiplexed(buffer: Buffer): boolean {
  return buffer.length >= HEADER_BYTES && buffer[0] <= 3 && buffer[1] === 0 && buffer[2] === 0 && buffer[3] === 0;
}

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z /;

/** Cuts a stream's text into lines; with timestamps requested each line starts with the engine's RFC 3339 time and a space. */
export function parseLines(text: string, stream: LogStream, timestamps: boolean): LogLine[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((raw) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const match = timestamps ? TIMESTAMP.exec(line) : null;
    if (!match) return { stream, timestamp: '', line };
    // Go's RFC3339Nano drops trailing zeros, so "…:05.1Z" would sort after "…:05.12Z" as text.
    const timestamp = `${match[1]}.${(match[2] ?? '').padEnd(9, '0')}Z`;
    return { stream, timestamp, line: line.slice(match[0].length) };
  });
}

/** Every line of a container's log output, stdout and stderr merged in time order when timestamps were asked for. */
export function parseDockerLogs(buffer: Buffer, tty: boolean, timestamps = true): LogLine[] {
  if (tty || !isMultiplexed(buffer)) return parseLines(buffer.toString('utf8'), 'stdout', timestamps);
  const { stdout, stderr } = demultiplex(buffer);
  const lines = [...parseLines(stdout.toString('utf8'), 'stdout', timestamps), ...parseLines(stderr.toString('utf8'), 'stderr', timestamps)];
  return timestamps ? lines.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0)) : lines;
}

/**
 * The same parsing for a followed log, chunk by chunk as the engine sends it:
 * a frame header, a frame or a UTF-8 character may be cut anywhere.
 */
export class LogStreamParser {
  private pending: Buffer = Buffer.alloc(0);
  private readonly decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  private readonly partial: Record<LogStream, string> = { stdout: '', stderr: '' };
  private multiplexed?: boolean;

  constructor(private readonly tty: boolean) {}

  /** The lines completed by this chunk. */
  push(chunk: Buffer): LogLine[] {
    if (this.tty) return this.text('stdout', chunk);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.multiplexed ??= this.pending.length >= HEADER_BYTES ? isMultiplexed(this.pending) : undefined;
    if (this.multiplexed === undefined) return [];
    if (!this.multiplexed) {
      const all = this.pending;
      this.pending = Buffer.alloc(0);
      return this.text('stdout', all);
    }
    const lines: LogLine[] = [];
    while (this.pending.length >= HEADER_BYTES) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < HEADER_BYTES + size) break;
      const stream = STREAM_TYPES[this.pending[0]] ?? 'stderr';
      lines.push(...this.text(stream, this.pending.subarray(HEADER_BYTES, HEADER_BYTES + size)));
      this.pending = this.pending.subarray(HEADER_BYTES + size);
    }
    return lines;
  }

  /** What is left when the stream ends: a last line without its newline. */
  end(): LogLine[] {
    const lines: LogLine[] = [];
    if (this.multiplexed === false || (this.multiplexed === undefined && this.pending.length > 0)) lines.push(...this.text('stdout', this.pending));
    this.pending = Buffer.alloc(0);
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.partial[stream] + this.decoders[stream].end();
      this.partial[stream] = '';
      if (rest !== '') lines.push(...parseLines(rest, stream, true));
    }
    return lines;
  }

  private text(stream: LogStream, bytes: Buffer): LogLine[] {
    const text = this.partial[stream] + this.decoders[stream].write(bytes);
    const cut = text.lastIndexOf('\n');
    if (cut < 0) {
      this.partial[stream] = text;
      return [];
    }
    this.partial[stream] = text.slice(cut + 1);
    return parseLines(text.slice(0, cut + 1), stream, true);
  }
}
