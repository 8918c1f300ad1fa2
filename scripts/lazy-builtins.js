// An esbuild plugin for the bundles (packages/cli/lazy-builtins.js,
// packages/agent/bundle.js): Node modules a bundle's libraries require when
// they load but use only now and then stand in the bundle as objects with the
// same names whose values load the real module when first read. Node compiles
// and keeps every module it loads for the process's whole life.
/**
 * Plain values read when a module loads, written into the stand-in from the
 * node that builds the bundle: grpc-js destructures http2.constants at its
 * top. They are HTTP/2's own (header names, error codes, status codes), the
 * same in every Node version; lazy-builtins.test.ts holds them to the running node's.
 */
const INLINE = { http2: ['constants'] };

function standIn(name) {
  // The names are read off the real module here, at bundle time, in the node that builds the bundle.
  const real = require(name);
  const inline = INLINE[name] ?? [];
  const getters = Object.keys(real).map((key) =>
    inline.includes(key)
      ? `${JSON.stringify(key)}: { enumerable: true, value: Object.freeze(${JSON.stringify(real[key])}) }`
      : `${JSON.stringify(key)}: { enumerable: true, get: () => load()[${JSON.stringify(key)}] }`,
  );
  return [
    'let loaded;',
    `const load = () => (loaded ??= require(${JSON.stringify(`node:${name}`)}));`,
    `module.exports = Object.defineProperties({}, {\n${getters.join(',\n')}\n});`,
  ].join('\n');
}

/** The plugin for `lazy`, the names of Node's modules (without `node:`) to load when first read. */
module.exports = (lazy) => ({
  name: 'lazy-builtins',
  setup(build) {
    const filter = new RegExp(`^(node:)?(${lazy.join('|')})$`);
    build.onResolve({ filter }, (args) => (args.namespace === 'file' ? { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({ contents: standIn(args.path), loader: 'js' }));
  },
});
