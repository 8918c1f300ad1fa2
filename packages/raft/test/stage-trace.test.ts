import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const MODULE = path.join(__dirname, '../dist/stage-trace.js');
const SCRIPT = `const t = require(${JSON.stringify(MODULE)}); t.stamp(7, 'proposed'); t.stamp('svc', 'handler');`;

describe('stage trace', () => {
  it('writes a line per stamp, on the monotonic clock, only when PISCHED_STAGE_TRACE names a directory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stage-trace-'));
    try {
      const before = process.hrtime.bigint();
      execFileSync(process.execPath, ['-e', SCRIPT], { env: { ...process.env, PISCHED_STAGE_TRACE: dir } });
      const after = process.hrtime.bigint();
      const files = fs.readdirSync(dir);
      expect(files).toHaveLength(1);
      const lines = fs.readFileSync(path.join(dir, files[0]), 'utf8').split('\n').filter((line) => !line.startsWith('gc ') && line);
      expect(lines.map((line) => line.split(' ').slice(0, 2))).toEqual([['7', 'proposed'], ['svc', 'handler']]);
      for (const line of lines) {
        const ns = BigInt(line.split(' ')[2]);
        expect(ns > before && ns < after).toBe(true);
      }

      const off = fs.mkdtempSync(path.join(os.tmpdir(), 'stage-trace-off-'));
      const { PISCHED_STAGE_TRACE: _unused, ...env } = process.env;
      execFileSync(process.execPath, ['-e', SCRIPT], { env, cwd: off });
      expect(fs.readdirSync(off)).toEqual([]);
      fs.rmSync(off, { recursive: true });
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});
