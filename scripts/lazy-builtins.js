// An esbuild plugin for the bundles (packages/cli/lazy-builtins.js,
// packages/agent/bundle.js): modules a bundle's code requires when it loads
// but uses only now and then stand in the bundle as objects with the same
// names whose values load the real module when first read. Node compiles and
// keeps every module it loads for the process's whole life. Mostly Node's own
// modules; a package (the CLI's grpc-js) stands in the same way, its real code
// bundled beside the stand-in and run at the first read.
const { isBuiltin } = require('node:module');

/**
 * Plain values read when a module loads, written into the stand-in from the
 * node that builds the bundle: grpc-js destructures http2.constants at its
 * top; the CLI compares gRPC status codes (grpc-js's `status`) when a call
 * fails, which must not load grpc-js. They are fixed by their protocols (HTTP/2's
 * header names, error and status codes; gRPC's codes), the same in every
 * version; lazy-builtins.test.ts holds them to the real modules'.
 */
const INLINE = { http2: ['constants'], '@grpc/grpc-js': ['status'] };

function standIn(name) {
  // The names are read off the real module here, at bundle time, in the node that builds the bundle.
  const real = require(name);
  const inline = INLINE[name] ?? [];
  const properties = Object.keys(real).map((key) =>
    inline.includes(key)
      ? `${JSON.stringify(key)}: { enumerable: true, value: Object.freeze(${JSON.stringify(real[key])}) }`
      : `${JSON.stringify(key)}: { enumerable: true, get: () => load()[${JSON.stringify(key)}] }`,
  );
  // tsc's CommonJS takes a module marked so as it is, instead of copying it with a getter per name.
  if (real.__esModule) properties.push('__esModule: { value: true }');
  // A package's own entry file, by its absolute path (which this plugin's filter does not match), bundled as usual.
  const target = isBuiltin(name) ? `node:${name}` : require.resolve(name);
  return [
    'let loaded;',
    `const load = () => (loaded ??= require(${JSON.stringify(target)}));`,
    `module.exports = Object.defineProperties({}, {\n${properties.join(',\n')}\n});`,
  ].join('\n');
}

/** The plugin for `lazy`, the names of Node's modules (without `node:`) or of packages to load when first read. */
module.exports = (lazy) => ({
  name: 'lazy-builtins',
  setup(build) {
    const filter = new RegExp(`^(node:)?(${lazy.map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);
    build.onResolve({ filter }, (args) => (args.namespace === 'file' ? { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({ contents: standIn(args.path), loader: 'js', resolveDir: __dirname }));
  },
});
