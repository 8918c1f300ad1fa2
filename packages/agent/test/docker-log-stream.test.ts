import { describe, expect, it } from 'vitest';
import { LogStreamParser, demultiplex, parseDockerLogs, parseLines } from '../src/docker-log-stream';

function frame(type: number, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('Docker log demultiplexing', () => {
  it('separates stdout from stderr and joins a line split over frames', () => {
    const buffer = Buffer.concat([frame(1, 'hel'), frame(2, 'oops\n'), frame(1, 'lo\nbye\n')]);
    const { stdout, stderr } = demultiplex(buffer);
    expect(stdout.toString()).toBe('hello\nbye\n');
    expect(stderr.toString()).toBe('oops\n');
  });

  it('keeps what there is of a truncated last frame', () => {
    const whole = frame(1, 'abcdef');
    expect(demultiplex(whole.subarray(0, 11)).stdout.toString()).toBe('abc');
  });

  it('merges both streams in time order, with timestamps padded to nine digits', () => {
    const buffer = Buffer.concat([
      frame(1, '2026-01-01T00:00:05.1Z first\n'),
      frame(1, '2026-01-01T00:00:05.3Z third\n'),
      frame(2, '2026-01-01T00:00:05.12Z second\n'),
    ]);
    expect(parseDockerLogs(buffer, false)).toEqual([
      { stream: 'stdout', timestamp: '2026-01-01T00:00:05.100000000Z', line: 'first' },
      { stream: 'stderr', timestamp: '2026-01-01T00:00:05.120000000Z', line: 'second' },
      { stream: 'stdout', timestamp: '2026-01-01T00:00:05.300000000Z', line: 'third' },
    ]);
  });

  it('reads TTY output as one raw stdout stream, without frames', () => {
    expect(parseDockerLogs(Buffer.from('2026-01-01T00:00:01Z up\r\n'), true)).toEqual([
      { stream: 'stdout', timestamp: '2026-01-01T00:00:01.000000000Z', line: 'up' },
    ]);
  });

  it('returns no lines for no output, and keeps empty lines in between', () => {
    expect(parseDockerLogs(Buffer.alloc(0), false)).toEqual([]);
    expect(parseLines('a\n\nb\n', 'stdout', false).map((line) => line.line)).toEqual(['a', '', 'b']);
  });
});

describe('LogStreamParser (a followed log)', () => {
  it('gives the same lines whatever the chunks, a header, frame or character cut anywhere', () => {
    const buffer = Buffer.concat([
      frame(1, '2026-01-01T00:00:01Z héllo\n2026-01-01T00:00:02Z wor'),
      frame(2, '2026-01-01T00:00:03Z err\n'),
      frame(1, 'ld\n2026-01-01T00:00:04Z last without newline'),
    ]);
    const whole = new LogStreamParser(false);
    const expected = [...whole.push(buffer), ...whole.end()];
    expect(expected.map((line) => `${line.stream}:${line.line}`)).toEqual(['stdout:héllo', 'stderr:err', 'stdout:world', 'stdout:last without newline']);
    for (let size = 1; size <= 9; size++) {
      const parser = new LogStreamParser(false);
      const lines = [];
      for (let i = 0; i < buffer.length; i += size) lines.push(...parser.push(buffer.subarray(i, i + size)));
      lines.push(...parser.end());
      expect(lines, `chunks of ${size}`).toEqual(expected);
    }
  });

  it('reads a TTY container as raw stdout', () => {
    const parser = new LogStreamParser(true);
    expect(parser.push(Buffer.from('2026-01-01T00:00:01Z a\r\n2026-01-01T00:00:02Z b'))).toEqual([{ stream: 'stdout', timestamp: '2026-01-01T00:00:01.000000000Z', line: 'a' }]);
    expect(parser.end()).toEqual([{ stream: 'stdout', timestamp: '2026-01-01T00:00:02.000000000Z', line: 'b' }]);
  });
});
