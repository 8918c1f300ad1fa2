import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const nodeRequire = createRequire(__filename);
const lazyBuiltins = nodeRequire('../lazy-builtins.js') as esbuild.Plugin;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-lazy-builtins-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Bundles `source` as bundle.js does and runs it; what it prints, as JSON. */
async function bundleAndRun(source: string): Promise<unknown> {
  fs.writeFileSync(path.join(dir, 'entry.js'), source);
  const outfile = path.join(dir, 'out.js');
  await esbuild.build({ entryPoints: [path.join(dir, 'entry.js')], outfile, bundle: true, platform: 'node', format: 'cjs', plugins: [lazyBuiltins], logLevel: 'silent' });
  const run = spawnSync(process.execPath, [outfile], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

describe('lazy-builtins (the bundle\'s esbuild plugin)', () => {
  it('loads child_process and zlib only when a name of theirs is first read, and then gives the real ones', async () => {
    const result = await bundleAndRun(`
      const loaded = () => process.moduleLoadList.filter((m) => m === 'NativeModule child_process' || m === 'NativeModule zlib');
      const childProcess = require('node:child_process');
      const zlib = require('zlib');
      const atStart = loaded();
      const keys = [Object.keys(childProcess), Object.keys(zlib)];
      const gunzipped = zlib.gunzipSync(zlib.gzipSync('pisched')).toString();
      const ran = childProcess.execFileSync(process.execPath, ['-e', 'process.stdout.write("child")'], { encoding: 'utf8' });
      console.log(JSON.stringify({ atStart, keys, gunzipped, ran, after: loaded() }));
    `);
    const keys = [Object.keys(nodeRequire('node:child_process')), Object.keys(nodeRequire('node:zlib'))];
    expect(keys[1]).toContain('gzipSync');
    expect(result).toEqual({ atStart: [], keys, gunzipped: 'pisched', ran: 'child', after: ['NativeModule zlib', 'NativeModule child_process'] });
  });

  it('gives http2.constants (grpc-js destructures them when it loads) without loading http2, and loads tls, https, dns and http2 when used', async () => {
    const result = await bundleAndRun(`
      const loaded = () => process.moduleLoadList.filter((m) => /^NativeModule (http2|https|tls|dns)$/.test(m));
      const http2 = require('node:http2');
      const tls = require('tls');
      require('https');
      const dns = require('node:dns');
      const { HTTP2_HEADER_PATH, NGHTTP2_CANCEL } = http2.constants;
      const atStart = loaded();
      const constants = http2.constants;
      const context = typeof tls.createSecureContext({});
      dns.lookup('127.0.0.1', { family: 4 }, (error, address) => {
        const session = typeof http2.connect;
        console.log(JSON.stringify({ atStart, HTTP2_HEADER_PATH, NGHTTP2_CANCEL, constants, context, address: error ? error.message : address, session, after: loaded() }));
      });
    `);
    const { constants } = nodeRequire('node:http2') as typeof import('node:http2');
    expect(result).toEqual({
      atStart: [],
      HTTP2_HEADER_PATH: ':path',
      NGHTTP2_CANCEL: 8,
      // The values written into the bundle at build are the running node's.
      constants: JSON.parse(JSON.stringify(constants)),
      context: 'object',
      address: '127.0.0.1',
      session: 'function',
      after: ['NativeModule tls', 'NativeModule dns', 'NativeModule http2'],
    });
  });

  it('stands in for grpc-js: its status codes written in, the package itself run at the first other read', async () => {
    // grpc-js reads its GRPC_ variables as it loads: a read of one tells that it ran.
    const result = await bundleAndRun(`
      const read = new Set();
      process.env = new Proxy(process.env, { get: (env, key) => { if (typeof key === 'string' && key.startsWith('GRPC_')) read.add(key); return Reflect.get(env, key); } });
      const grpc = require('@grpc/grpc-js');
      const { status } = grpc;
      const atStart = read.size;
      const insecure = grpc.credentials.createInsecure()._isSecure();
      console.log(JSON.stringify({ atStart, status, esModule: grpc.__esModule, insecure, loaded: read.size > 0 }));
    `);
    expect(result).toEqual({ atStart: 0, status: JSON.parse(JSON.stringify(nodeRequire('@grpc/grpc-js').status)), esModule: true, insecure: false, loaded: true });
  });
});
