// Writes dist/bundle/pisched-agent.js: the agent and its JS dependencies in
// one file, which bin/pisched-agent.js starts instead of dist/main.js (#17
// item 4, the agent's footprint on a Pi Zero 2). One file instead of some 360
// modules, minus the dependencies' code the agent never runs, is less source
// and fewer module objects held for the daemon's whole life.
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');
const NODE_BUNDLE_OPTIONS = require('../../scripts/node-bundle-options');
const lazyBuiltins = require('../../scripts/lazy-builtins');
const plainNamespaces = require('../../scripts/plain-namespaces');

/**
 * Modules a dependency loads at start for features the agent does not use,
 * replaced by stand-ins that fail with one clear line if they are ever called.
 * Keyed by the module's own file (or package name), so a copy of it under
 * another path is left untouched.
 */
const LEFT_OUT = {
  // Docker over ssh:// (docker-modem requires ssh2 at load, with its native
  // crypto); the agent only speaks to a local socket (--docker-socket).
  ssh2: { why: 'Docker over ssh', exports: '{ Client: leftOut }' },
  // BuildKit sessions for buildImage({ version: "2" }): a gRPC server of its
  // own, @grpc/proto-loader, protobufjs's parser and uuid. The agent never builds.
  'dockerode/lib/session.js': { why: "dockerode's BuildKit session", exports: 'leftOut' },
  // The build context as a tar stream (buildImage only), with its ignore-file parser.
  'tar-fs': { why: 'tar-fs (image builds)', exports: '{ pack: leftOut, extract: leftOut }' },
  '@balena/dockerignore': { why: '.dockerignore parsing (image builds)', exports: 'leftOut' },
  // pino.transport(): log lines through a worker thread (thread-stream). The
  // agent writes to stderr itself. Its module also loads Node's `module` (and
  // with it the ES module loader) at start.
  'pino/lib/transport.js': { why: "pino's worker-thread transports", exports: 'leftOut' },
  // protobufjs's reflection and .proto parser (the package's entry; its runtime,
  // protobufjs/minimal, stays): the agent encodes and decodes with the code
  // packages/api/gen-codecs.js generates from proto/. Only the scheduler's and
  // the CLI's calls (api/proto.ts), dockerode's BuildKit progress and
  // grpc-js's channelz and ORCA services (through proto-loader) would load it.
  protobufjs: { why: "protobufjs's reflection", exports: '{ Root: leftOut, Type: leftOut, loadSync: leftOut }' },
  '@grpc/proto-loader': { why: "proto-loader (grpc-js's channelz and ORCA services)", exports: '{ loadSync: leftOut, fromJSON: leftOut }' },
  // grpc-js's server (its index requires it at load, for its Server export):
  // the agent is only ever a client of the schedulers.
  '@grpc/grpc-js/build/src/server.js': { why: "grpc-js's server", exports: '{ Server: leftOut }' },
  // The server's interceptors, which its index also requires at load for three exports.
  '@grpc/grpc-js/build/src/server-interceptors.js': { why: "grpc-js's server interceptors", exports: '{ ServerListenerBuilder: leftOut, ResponderBuilder: leftOut, ServerInterceptingCall: leftOut }' },
};

/**
 * Modules (Node's own, or a package) a dependency's file requires at load,
 * each replaced for that file only by what it reads of them, or by a module
 * the agent loads anyway. Node compiles and keeps every module it loads for
 * the process's whole life.
 */
const REQUIRES_REPLACED = {
  // pino reads worker_threads' isMainThread only (whether to flush its
  // destination at exit); the bundle is only ever its process's main thread
  // (bin/pisched-agent.js requires it), and worker_threads loads five of
  // Node's modules for nothing else (0.2 MiB of the idle agent's RSS).
  'pino/lib/tools.js': { worker_threads: '{ isMainThread: true }' },
  // docker-modem's duplex for a request that writes to a container's stdin
  // (Duplex only, which it extends at load) gets Node's own stream module, of
  // which readable-stream 3 is a copy for old Node versions: its 37 kB of
  // streams, run at load, were held by every agent (45 KiB of its heap).
  'docker-modem/lib/http_duplex.js': { 'readable-stream': "require('node:stream')" },
};

function leftOutKey(resolved) {
  const inPackage = /node_modules\/(.*)$/.exec(resolved)?.[1];
  if (inPackage === undefined) return undefined;
  if (LEFT_OUT[inPackage]) return inPackage;
  // A package's entry point (tar-fs/index.js, ssh2/lib/index.js): keyed by the package's name.
  const name = /^(@[^/]+\/[^/]+|[^/]+)\//.exec(inPackage)?.[1];
  return name !== undefined && LEFT_OUT[name] && !LEFT_OUT[inPackage] && isEntry(resolved, name) ? name : undefined;
}

function isEntry(resolved, name) {
  try {
    return require.resolve(name, { paths: [path.dirname(resolved)] }) === resolved;
  } catch {
    return false;
  }
}

const leaveOut = {
  name: 'leave-out',
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.namespace !== 'file' || args.pluginData === 'left-out') return undefined;
      const replaced = replacedRequire(args.importer, args.path);
      if (replaced !== undefined) return { path: replaced, namespace: 'replaced-require' };
      // Resolve as esbuild would, then decide by the file it comes to.
      const result = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'left-out' });
      if (result.errors.length > 0 || result.external) return undefined;
      const key = leftOutKey(result.path);
      return key === undefined ? undefined : { path: key, namespace: 'left-out' };
    });
    build.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => {
      const { why, exports } = LEFT_OUT[args.path];
      const message = JSON.stringify(`pisched-agent: ${why} is left out of the agent's bundle (packages/agent/bundle.js)`);
      return {
        contents: `function leftOut() { throw new Error(${message}); }\nmodule.exports = ${exports};\n`,
        loader: 'js',
      };
    });
    build.onLoad({ filter: /.*/, namespace: 'replaced-require' }, (args) => {
      const [importer, name] = args.path.split('|');
      return { contents: `module.exports = ${REQUIRES_REPLACED[importer][name]};\n`, loader: 'js' };
    });
  },
};

/**
 * Node's modules the agent's code and libraries require at load and use only
 * now and then, loaded when first read (scripts/lazy-builtins.js): zlib
 * (grpc-js's, to compress, which the agent's calls never ask for; dockerode's
 * for image builds), v8 (for a collection during image transfers,
 * images/stream-garbage.ts), perf_hooks (the simulator's stall watch) with
 * the ten modules it loads, child_process (`ip`, `nft`, `iptables`, `mount`)
 * and dgram (the discovery DNS server and the mesh's UDP): an idle agent with
 * no service on a network reads none of them.
 */
const LAZY_BUILTINS = ['zlib', 'v8', 'perf_hooks', 'child_process', 'dgram'];

/** `importer|request` when `importer` (a file of node_modules) gets a stand-in for `request` (Node's own with `node:` or not, or a package). */
function replacedRequire(importer, request) {
  const file = /node_modules\/(.*)$/.exec(importer ?? '')?.[1];
  const name = request.replace(/^node:/, '');
  return file !== undefined && REQUIRES_REPLACED[file]?.[name] !== undefined ? `${file}|${name}` : undefined;
}

/**
 * esbuild's wrapper for each CommonJS module (`__commonJS`, minified): a
 * closure that runs the module's function once, at its first require, and
 * keeps that function for the process's whole life. The function's bytecode,
 * source positions and feedback are then held although it never runs again:
 * 388 KiB of an idle agent's heap, over its 286 modules (heap snapshot,
 * docs/benchmarks/startup-and-footprint.md). The same wrapper, which lets the function
 * go once it has run (kept if it threw, so that a later require runs it again,
 * as esbuild's does). Named groups: the function, the module object, the error.
 */
const COMMONJS_WRAPPER = /\((?<fn>[\w$]+),(?<mod>[\w$]+)\)=>\(\)=>\{try\{return \k<mod>\|\|\k<fn>\(\(\k<mod>=\{exports:\{\}\}\)\.exports,\k<mod>\),\k<mod>\.exports\}catch\((?<err>[\w$]+)\)\{throw \k<mod>=0,\k<err>\}\}/g;

/** `text` (an esbuild bundle) with its one CommonJS wrapper letting each module's function go once run; throws if esbuild wrote it otherwise. */
function releaseModuleFunctions(text) {
  const found = text.match(COMMONJS_WRAPPER)?.length ?? 0;
  if (found !== 1) throw new Error(`expected esbuild's CommonJS wrapper once in the bundle, found it ${found} times (esbuild changed it? see COMMONJS_WRAPPER)`);
  return text.replace(COMMONJS_WRAPPER, (...match) => {
    const { fn, mod, err } = match.at(-1);
    return `(${fn},${mod})=>()=>{try{return ${mod}||(${mod}={exports:{}},${fn}(${mod}.exports,${mod}),${fn}=0),${mod}.exports}catch(${err}){throw ${mod}=0,${err}}}`;
  });
}

const API_SOURCES = path.join(__dirname, '../api/src');

/**
 * The agent and @pisched/api are bundled from their TypeScript sources, as
 * ES modules, not from tsc's CommonJS in dist/: esbuild then hoists them into
 * the bundle's one scope, with no module function, `exports` object or
 * `__esModule` mark per file, none of the getters tsc writes for each name an
 * `export *` passes on (about 1,500 closures and 2,500 accessor pairs in an
 * idle agent's heap), and none of what no import reaches (the API package's
 * protobufjs descriptor, 28 kB, which only the scheduler's and the CLI's
 * reflection read). `@pisched/api` and `@pisched/api/dist/X` are read from
 * api/src; a file missing there fails the build.
 */
const apiFromSources = {
  name: 'api-from-sources',
  setup(build) {
    build.onResolve({ filter: /^@pisched\/api(\/|$)/ }, (args) => {
      const inPackage = args.path.replace(/^@pisched\/api\/?(dist\/)?/, '').replace(/\.js$/, '');
      const file = path.join(API_SOURCES, `${inPackage || 'index'}.ts`);
      if (!fs.existsSync(file)) return { errors: [{ text: `${args.path}: no ${path.relative(__dirname, file)} to bundle it from` }] };
      return { path: file };
    });
  },
};

/** Builds the bundle; `outfile` defaults to dist/bundle/pisched-agent.js. Returns esbuild's metafile. */
async function bundleAgent(outfile = path.join(__dirname, 'dist/bundle/pisched-agent.js')) {
  const result = await esbuild.build({
    entryPoints: [path.join(__dirname, 'src/main.ts')],
    outfile,
    ...NODE_BUNDLE_OPTIONS,
    // Loaded from node_modules on demand, as dist/main.js loads them, so that
    // their source is not held by an agent that never runs them: prom-client
    // (with --metrics-addr only) and the X.509 library (a member's CA work).
    external: ['prom-client', '@peculiar/x509', 'reflect-metadata'],
    plugins: [apiFromSources, lazyBuiltins(LAZY_BUILTINS), leaveOut],
    // Short local names: V8 holds the bundle's source and every function's
    // and scope's names for the daemon's whole life, and with them the idle
    // agent's private memory was 1.1 MiB larger (1,173 -> 853 kB of source).
    // A stack trace names bundled functions and classes by their short names
    // (methods keep theirs); its file, line and column still point into this file.
    minifyIdentifiers: true,
    metafile: true,
    write: false,
  });
  const [output] = result.outputFiles;
  fs.mkdirSync(path.dirname(outfile), { recursive: true });
  fs.writeFileSync(outfile, plainNamespaces(releaseModuleFunctions(output.text)));
  return result.metafile;
}

module.exports = { bundleAgent, apiFromSources, leaveOut, releaseModuleFunctions, plainNamespaces, LEFT_OUT, REQUIRES_REPLACED, LAZY_BUILTINS };

if (require.main === module) {
  bundleAgent().catch((error) => {
    console.error(`bundle.js: ${error.message}`);
    process.exit(1);
  });
}
