import { describe, expect, it } from 'vitest';
import { formatBytes, parseCpus, parseMemory } from '../src/units';

describe('parseMemory', () => {
  it.each([
    ['128M', 128 * 1024 ** 2],
    ['128m', 128 * 1024 ** 2],
    ['128MiB', 128 * 1024 ** 2],
    ['128MB', 128 * 1024 ** 2],
    ['1G', 1024 ** 3],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['512k', 512 * 1024],
    ['4096', 4096],
  ])('reads %s as Docker does (binary units)', (text, bytes) => {
    expect(parseMemory(text)).toBe(bytes);
  });

  it.each(['12Q', '', '-5M', 'M', '1..2G', '5iB', 'lots'])('refuses %j in one line', (text) => {
    expect(() => parseMemory(text)).toThrow(/^invalid memory size/);
  });
});

describe('parseCpus', () => {
  it('takes decimal cores', () => {
    expect(parseCpus('0.5')).toBe(0.5);
    expect(parseCpus('2')).toBe(2);
    expect(parseCpus('.25')).toBe(0.25);
  });
  it.each(['-1', 'two', '', '1e3', 'NaN', 'Infinity'])('refuses %j', (text) => {
    expect(() => parseCpus(text)).toThrow(/^invalid CPU amount/);
  });
});

describe('formatBytes', () => {
  it('prints binary units', () => {
    expect(formatBytes(512)).toBe('512B');
    expect(formatBytes(128 * 1024 ** 2)).toBe('128MiB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5GiB');
  });
});
