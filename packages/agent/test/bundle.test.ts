import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

interface Bundler {
  bundleAgent(outfile: string): Promise<esbuild.Metafile>;
  leaveOut: esbuild.Plugin;
  LEFT_OUT: Record<string, { why: string; exports: string }>;
  BUILTINS_LEFT_OUT: Record<string, Record<string, string>>;
  LAZY_BUILTINS: string[];
}
const AGENT = path.resolve(__dirname, '..');
const nodeRequire = createRequire(__filename);
const { bundleAgent, leaveOut, LEFT_OUT, BUILTINS_LEFT_OUT, LAZY_BUILTINS } = nodeRequire('../bundle.js') as Bundler;
const lazyBuiltins = nodeRequire('../../../scripts/lazy-builtins.js') as (lazy: string[]) => esbuild.Plugin;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-agent-bundle-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('packages/agent/bundle.js', () => {
  it("leaves ssh2, the BuildKit session, the build-context tar code, pino transports, protobufjs's reflection and grpc-js's server out of the bundle, each by a stand-in", async () => {
    if (!fs.existsSync(path.join(AGENT, 'dist/main.js'))) throw new Error('packages/agent/dist/main.js is missing: run npm run build first');
    const metafile = await bundleAgent(path.join(dir, 'pisched-agent.js'));
    const inputs = Object.keys(metafile.inputs);
    for (const gone of ['node_modules/ssh2/', 'node_modules/dockerode/lib/session.js', 'node_modules/uuid/', 'node_modules/tar-fs/', 'node_modules/tar-stream/', 'node_modules/@balena/dockerignore/', 'node_modules/thread-stream/', 'node_modules/@peculiar/x509/', 'node_modules/protobufjs/src/type.js', 'node_modules/protobufjs/src/parse.js', 'node_modules/protobufjs/ext/', 'node_modules/@grpc/proto-loader/', 'node_modules/@grpc/grpc-js/build/src/server.js']) {
      expect(inputs.filter((input) => input.includes(gone)), gone).toEqual([]);
    }
    // Every stand-in is still used: a key that no longer matches a module (a dependency moved its files) fails here.
    for (const key of Object.keys(LEFT_OUT)) expect(inputs, key).toContain(`left-out:${key}`);
    for (const [file, builtins] of Object.entries(BUILTINS_LEFT_OUT)) {
      for (const builtin of Object.keys(builtins)) expect(inputs, `${file}: ${builtin}`).toContain(`left-out-builtin:${file}|${builtin}`);
    }
    // What the agent does run is in it.
    expect(inputs.some((input) => input.endsWith('node_modules/dockerode/lib/docker.js'))).toBe(true);
    expect(inputs.some((input) => input.endsWith('node_modules/pino/pino.js'))).toBe(true);
    // protobufjs's runtime, which the codes generated from proto/ run on (packages/api/gen-codecs.js).
    expect(inputs.some((input) => input.endsWith('node_modules/protobufjs/src/writer.js'))).toBe(true);
  });

  it("loads none of Node's worker_threads, module, vm, zlib, v8, perf_hooks, child_process or dgram at start, which the idle agent never uses", async () => {
    const outfile = path.join(dir, 'builtins.js');
    await bundleAgent(outfile);
    // Node's own modules the process has loaded, written as it exits (after --version, once every module of the bundle has loaded).
    const preload = path.join(dir, 'loaded-builtins.js');
    fs.writeFileSync(preload, "process.on('exit', () => process.stderr.write(JSON.stringify(process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)))));");
    const run = spawnSync(process.execPath, ['--require', preload, outfile, '--version'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const loaded = JSON.parse(run.stderr) as string[];
    // What the agent does load at start is seen, so the list is the real one.
    expect(loaded).toContain('http2');
    for (const unused of ['worker_threads', 'internal/worker', 'module', 'internal/modules/esm/loader', 'vm', 'zlib', 'v8', 'perf_hooks', 'child_process', 'dgram']) expect(loaded, unused).not.toContain(unused);
  });

  it('loads zlib, v8 and perf_hooks when first used, and gives the real ones', async () => {
    const entry = path.join(dir, 'lazy-entry.js');
    fs.writeFileSync(entry, `
      const zlib = require('node:zlib'), v8 = require('node:v8'), { PerformanceObserver } = require('node:perf_hooks');
      const atStart = ['zlib', 'v8', 'perf_hooks'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m));
      const used = [zlib.gunzipSync(zlib.gzipSync('pisched')).toString(), typeof v8.getHeapStatistics().used_heap_size, typeof PerformanceObserver];
      console.log(JSON.stringify({ atStart, used }));
    `);
    const outfile = path.join(dir, 'lazy.js');
    await esbuild.build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'cjs', plugins: [lazyBuiltins(LAZY_BUILTINS)], logLevel: 'silent' });
    const run = spawnSync(process.execPath, [outfile], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    // perf_hooks is read when the entry loads (the destructuring), the other two only when called.
    expect(JSON.parse(run.stdout)).toEqual({ atStart: ['perf_hooks'], used: ['pisched', 'number', 'function'] });
  });

  it('writes short local names, and keeps the names of methods', async () => {
    const outfile = path.join(dir, 'names.js');
    await bundleAgent(outfile);
    const text = fs.readFileSync(outfile, 'latin1');
    // A class and a function local to the agent's modules (worker.ts, main.ts)...
    expect(/\bImageUnavailable\b/.test(text), 'ImageUnavailable').toBe(false);
    expect(/\bfunction hostNameservers\b/.test(text), 'hostNameservers').toBe(false);
    // ...and a method, which other code calls by its name.
    expect(/\bglance\(/.test(text), 'glance').toBe(true);
  });

  it('a stand-in loads as its module did and fails with one clear line when used', async () => {
    const outfile = path.join(dir, 'uses-ssh.js');
    await esbuild.build({
      stdin: { contents: "const ssh = require('docker-modem/lib/ssh'); ssh({});", resolveDir: AGENT },
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      plugins: [leaveOut],
      logLevel: 'silent',
    });
    const run = spawnSync(process.execPath, [outfile], { encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("pisched-agent: Docker over ssh is left out of the agent's bundle (packages/agent/bundle.js)");
  });
});
