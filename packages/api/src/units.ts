/**
 * Sizes and CPU amounts as people type them. Memory suffixes are binary,
 * as Docker reads them (128M = 128 MiB), with or without i/B: K, KB, Ki, KiB.
 */
const MEMORY_PATTERN = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)$/i;
const MULTIPLIERS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export function parseMemory(text: string): number {
  const match = MEMORY_PATTERN.exec(text.trim());
  if (!match || (match[3] !== '' && match[2] === '')) {
    throw new Error(`invalid memory size "${text}": use a number with an optional unit, e.g. 512M, 1G, 256MiB`);
  }
  const bytes = Math.round(Number(match[1]) * MULTIPLIERS[match[2].toLowerCase()]);
  if (!Number.isSafeInteger(bytes)) throw new Error(`invalid memory size "${text}": too large`);
  return bytes;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = Number.isInteger(value) ? String(value) : value.toFixed(1).replace(/\.0$/, '');
  return `${text}${units[unit]}`;
}

export function parseCpus(text: string): number {
  const trimmed = text.trim();
  const cpus = Number(trimmed);
  if (trimmed === '' || !/^\d*\.?\d+$/.test(trimmed) || !Number.isFinite(cpus)) {
    throw new Error(`invalid CPU amount "${text}": use a non-negative number of cores, e.g. 0.5 or 2`);
  }
  return cpus;
}
