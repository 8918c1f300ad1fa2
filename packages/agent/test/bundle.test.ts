import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

interface Bundler {
  bundleAgent(outfile: string): Promise<esbuild.Metafile>;
  apiFromSources: esbuild.Plugin;
  leaveOut: esbuild.Plugin;
  releaseModuleFunctions(text: string): string;
  plainNamespaces(text: string): string;
  LEFT_OUT: Record<string, { why: string; exports: string }>;
  REQUIRES_REPLACED: Record<string, Record<string, string>>;
  LAZY_BUILTINS: string[];
}
const AGENT = path.resolve(__dirname, '..');
const nodeRequire = createRequire(__filename);
const { bundleAgent, apiFromSources, leaveOut, releaseModuleFunctions, plainNamespaces, LEFT_OUT, REQUIRES_REPLACED, LAZY_BUILTINS } = nodeRequire('../bundle.js') as Bundler;
const NODE_BUNDLE_OPTIONS = nodeRequire('../../../scripts/node-bundle-options.js') as esbuild.BuildOptions;
const lazyBuiltins = nodeRequire('../../../scripts/lazy-builtins.js') as (lazy: string[]) => esbuild.Plugin;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-agent-bundle-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `contents` bundled with the agent's stand-ins (resolved from the agent's package) and run. */
async function runWithStandIns(name: string, contents: string) {
  const outfile = path.join(dir, `${name}.js`);
  await esbuild.build({ stdin: { contents, resolveDir: AGENT }, outfile, bundle: true, platform: 'node', format: 'cjs', plugins: [leaveOut], logLevel: 'silent' });
  return spawnSync(process.execPath, [outfile], { encoding: 'utf8' });
}

describe('packages/agent/bundle.js', () => {
  it("leaves ssh2, the BuildKit session, the build-context tar code, pino transports, protobufjs's reflection and grpc-js's server out of the bundle, each by a stand-in", async () => {
    if (!fs.existsSync(path.join(AGENT, 'dist/main.js'))) throw new Error('packages/agent/dist/main.js is missing: run npm run build first');
    const metafile = await bundleAgent(path.join(dir, 'pisched-agent.js'));
    const inputs = Object.keys(metafile.inputs);
    for (const gone of ['node_modules/ssh2/', 'node_modules/dockerode/lib/session.js', 'node_modules/uuid/', 'node_modules/tar-fs/', 'node_modules/tar-stream/', 'node_modules/@balena/dockerignore/', 'node_modules/thread-stream/', 'node_modules/@peculiar/x509/', 'node_modules/protobufjs/src/type.js', 'node_modules/protobufjs/src/parse.js', 'node_modules/protobufjs/ext/', 'node_modules/@grpc/proto-loader/', 'node_modules/@grpc/grpc-js/build/src/server.js', 'node_modules/@grpc/grpc-js/build/src/server-interceptors.js', 'node_modules/readable-stream/']) {
      expect(inputs.filter((input) => input.includes(gone)), gone).toEqual([]);
    }
    // Every stand-in is still used: a key that no longer matches a module (a dependency moved its files) fails here.
    for (const key of Object.keys(LEFT_OUT)) expect(inputs, key).toContain(`left-out:${key}`);
    for (const [file, requests] of Object.entries(REQUIRES_REPLACED)) {
      for (const request of Object.keys(requests)) expect(inputs, `${file}: ${request}`).toContain(`replaced-require:${file}|${request}`);
    }
    // What the agent does run is in it.
    expect(inputs.some((input) => input.endsWith('node_modules/dockerode/lib/docker.js'))).toBe(true);
    expect(inputs.some((input) => input.endsWith('node_modules/pino/pino.js'))).toBe(true);
    // protobufjs's runtime, which the codes generated from proto/ run on (packages/api/gen-codecs.js).
    expect(inputs.some((input) => input.endsWith('node_modules/protobufjs/src/writer.js'))).toBe(true);
  });

  it("bundles the agent and @pisched/api from their TypeScript sources, in one scope, and leaves the API's protobufjs descriptor out", async () => {
    const metafile = await bundleAgent(path.join(dir, 'from-sources.js'));
    const ours = Object.entries(Object.values(metafile.outputs)[0]!.inputs).filter(([input]) => /(^|\/)packages\/(agent|api)\//.test(input));
    // Not tsc's CommonJS in dist/: each file of that is a module function with its exports object and getters.
    expect(ours.filter(([input]) => /\/dist\//.test(input)).map(([input]) => input)).toEqual([]);
    expect(ours.map(([input]) => input)).toEqual(expect.arrayContaining(['packages/agent/src/main.ts', 'packages/api/src/index.ts', 'packages/api/src/quick-ip-checks.ts', 'packages/api/src/gen/codecs.ts']));
    // The descriptor (28 kB) is imported by api/src/proto.ts for the scheduler's and the CLI's reflection only: no code of it stays.
    const descriptor = ours.find(([input]) => input.endsWith('packages/api/src/gen/descriptor.ts'));
    expect(descriptor?.[1].bytesInOutput ?? 0).toBeLessThan(100);
  });

  it('fails the build with one line naming the file when a module of @pisched/api has no source to bundle it from', async () => {
    const build = esbuild.build({ stdin: { contents: "import '@pisched/api/dist/no-such-module';", resolveDir: AGENT }, bundle: true, platform: 'node', write: false, plugins: [apiFromSources], logLevel: 'silent' });
    await expect(build).rejects.toThrow("@pisched/api/dist/no-such-module: no ../api/src/no-such-module.ts to bundle it from");
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
    const run = await runWithStandIns('uses-ssh', "const ssh = require('docker-modem/lib/ssh'); ssh({});");
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("pisched-agent: Docker over ssh is left out of the agent's bundle (packages/agent/bundle.js)");
  });

  it("gives docker-modem's stdin duplex Node's own stream module, and it still carries a request's body and its answer", async () => {
    const run = await runWithStandIns('duplex', `
      const { EventEmitter } = require('node:events');
      const HttpDuplex = require('docker-modem/lib/http_duplex');
      const written = [];
      const req = { write: (chunk) => written.push(String(chunk)), end: () => {} };
      const res = Object.assign(new EventEmitter(), { pause() {}, resume() {}, socket: { destroySoon() {} } });
      const duplex = new HttpDuplex(req, res);
      const read = [];
      duplex.on('data', (chunk) => read.push(String(chunk)));
      duplex.on('end', () => console.log(JSON.stringify({ written, read, nodeStream: duplex instanceof require('node:stream').Duplex })));
      duplex.write('stdin');
      res.emit('data', Buffer.from('stdout'));
      res.emit('end');`);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ written: ['stdin'], read: ['stdout'], nodeStream: true });
  });

  it("lets each module's function go once it has run, and runs one that threw again at the next require, as esbuild's wrapper does", async () => {
    // A module whose function is large (some 4,000 statements of bytecode), one that throws at its first require, and two that require each other.
    fs.writeFileSync(path.join(dir, 'large.js'), `exports.sum = 0;\n${Array.from({ length: 4000 }, (_, i) => `exports.sum += ${i} * exports.sum + ${i};`).join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'flaky.js'), 'globalThis.flakyRuns = (globalThis.flakyRuns ?? 0) + 1; if (globalThis.flakyRuns === 1) throw new Error("first"); exports.runs = globalThis.flakyRuns;\n');
    fs.writeFileSync(path.join(dir, 'ping.js'), "exports.early = 'ping'; exports.pong = require('./pong.js').name;\n");
    fs.writeFileSync(path.join(dir, 'pong.js'), "exports.name = 'pong'; exports.ping = require('./ping.js').early;\n");
    fs.writeFileSync(path.join(dir, 'modules-entry.js'), `
      const v8 = require('node:v8');
      require('./large.js');
      let first; try { require('./flaky.js'); } catch (error) { first = error.message; }
      const again = require('./flaky.js').runs;
      const { pong } = require('./ping.js');
      const { ping } = require('./pong.js');
      // Once the bundle's own top-level code is done, which holds every module's function while it runs. The
      // require after the collection keeps large.js's wrapper, as the agent's modules keep those of what they require.
      setTimeout(() => {
        gc();
        const bytecode = v8.getHeapCodeStatistics().bytecode_and_metadata_size;
        console.log(JSON.stringify({ first, again, pong, ping, large: require('./large.js').sum > 0, bytecode }));
      }, 10);
    `);
    const result = await esbuild.build({ ...NODE_BUNDLE_OPTIONS, entryPoints: [path.join(dir, 'modules-entry.js')], minifyIdentifiers: true, write: false });
    const run = (text: string) => {
      const file = path.join(dir, `modules-${text.length}.js`);
      fs.writeFileSync(file, text);
      const child = spawnSync(process.execPath, ['--expose-gc', file], { encoding: 'utf8' });
      expect(child.status, child.stderr).toBe(0);
      return JSON.parse(child.stdout) as { first: string; again: number; pong: string; ping: string; large: boolean; bytecode: number };
    };
    const kept = run(result.outputFiles[0]!.text);
    const released = run(releaseModuleFunctions(result.outputFiles[0]!.text));
    expect({ ...released, bytecode: 0 }).toEqual({ first: 'first', again: 2, pong: 'pong', ping: 'ping', large: true, bytecode: 0 });
    expect({ ...kept, bytecode: 0 }).toEqual({ ...released, bytecode: 0 });
    // The large module's bytecode (some 160 KiB) is gone with its function.
    expect(kept.bytecode - released.bytecode).toBeGreaterThan(40 * 1024);
  });

  it("refuses a bundle without esbuild's CommonJS wrapper, rather than leave every module's function held without a word", () => {
    expect(() => releaseModuleFunctions('"use strict";console.log(1);\n')).toThrow(/esbuild's CommonJS wrapper once in the bundle, found it 0 times/);
  });

  it("gives an ES import of a CommonJS module the module itself behind its namespace, not a getter per export, with the same values as esbuild's", async () => {
    // Node's own modules, a transpiled ES module (__esModule, with a default and a live value), a plain one, a function and a string.
    fs.writeFileSync(path.join(dir, 'ns-transpiled.js'), "Object.defineProperty(exports, '__esModule', { value: true }); exports.default = 'dflt'; exports.value = 1; exports.bump = () => { exports.value += 1; };\n");
    fs.writeFileSync(path.join(dir, 'ns-plain.js'), 'module.exports = { a: 1, nested: { b: 2 } };\n');
    fs.writeFileSync(path.join(dir, 'ns-function.js'), "module.exports = function called() { return 'called'; }; module.exports.x = 'x';\n");
    fs.writeFileSync(path.join(dir, 'ns-string.js'), "module.exports = 'text';\n");
    fs.writeFileSync(path.join(dir, 'ns-entry.ts'), `
      import * as nodeFs from 'node:fs';
      import nodePath, { join } from 'node:path';
      import * as transpiled from './ns-transpiled.js';
      import dflt, { bump } from './ns-transpiled.js';
      import plain, { a } from './ns-plain.js';
      import * as plainNs from './ns-plain.js';
      import called, { x } from './ns-function.js';
      import text from './ns-string.js';
      const before = transpiled.value;
      bump();
      const own = (ns) => Object.getOwnPropertyNames(ns).length;
      console.log(JSON.stringify({
        values: [typeof nodeFs.readFileSync, nodeFs.existsSync('/'), nodePath.basename('/a/b'), join('a', 'b'), dflt, before, transpiled.value, transpiled.default, plain.nested.b, a, plainNs.a, plainNs.default === plain, called(), x, text, 'readFileSync' in nodeFs],
        own: [own(nodeFs), own(transpiled), own(plainNs)],
      }));
    `);
    const result = await esbuild.build({ ...NODE_BUNDLE_OPTIONS, entryPoints: [path.join(dir, 'ns-entry.ts')], minifyIdentifiers: true, write: false });
    const run = (text: string) => {
      const file = path.join(dir, `ns-${text.length}.js`);
      fs.writeFileSync(file, text);
      const child = spawnSync(process.execPath, [file], { encoding: 'utf8' });
      expect(child.status, child.stderr).toBe(0);
      return JSON.parse(child.stdout) as { values: unknown[]; own: number[] };
    };
    const esbuilds = run(result.outputFiles[0]!.text);
    const plainOnes = run(plainNamespaces(result.outputFiles[0]!.text));
    expect(plainOnes.values).toEqual(['function', true, 'b', 'a/b', 'dflt', 1, 2, 'dflt', 2, 1, 1, true, 'called', 'x', 'text', true]);
    expect(esbuilds.values).toEqual(plainOnes.values);
    // esbuild's namespace of fs has a property per export (100-odd); this one only its `default`.
    expect(esbuilds.own[0]).toBeGreaterThan(50);
    expect(plainOnes.own).toEqual([1, 0, 1]);
  });

  it("rewrites the agent's bundle so, and refuses a bundle without esbuild's __toESM rather than leave its getters without a word", async () => {
    const outfile = path.join(dir, 'namespaces.js');
    await bundleAgent(outfile);
    expect(() => plainNamespaces(fs.readFileSync(outfile, 'latin1'))).toThrow(/esbuild's __toESM once in the bundle, found it 0 times/);
    expect(() => plainNamespaces('"use strict";console.log(1);\n')).toThrow(/esbuild's __toESM once in the bundle, found it 0 times/);
  });

  it("answers IPv4 addresses and names without Node's IPv6 expression (135 KiB compiled), as the agent dials its schedulers", async () => {
    const outfile = path.join(dir, 'ip-checks.js');
    await bundleAgent(outfile);
    // After the bundle has loaded (--version), what an IPv4 address and a name reach of Node's own checks.
    const preload = path.join(dir, 'record-ip-checks.js');
    fs.writeFileSync(preload, `
      const net = require('node:net');
      const reached = [];
      for (const name of ['isIPv6', 'isIP']) { const original = net[name]; net[name] = (input) => { reached.push(name + '(' + input + ')'); return original(input); }; }
      process.on('exit', () => { reached.length = 0; const answers = [net.isIP('10.0.0.1'), net.isIP('scheduler-1'), net.isIPv6('10.0.0.1'), net.isIP('::1')]; process.stderr.write(JSON.stringify({ answers, reached })); });
    `);
    const run = spawnSync(process.execPath, ['--require', preload, outfile, '--version'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stderr)).toEqual({ answers: [4, 0, false, 6], reached: ['isIPv6(::1)'] });
  });
});
