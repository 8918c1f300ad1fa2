// An esbuild plugin for bundle.js: Node modules the bundle's libraries require
// when they load but use only now and then stand in the bundle as objects
// with the same names whose values load the real module when first read.
// commander needs child_process only to run external subcommands (never),
// grpc-js zlib only to compress; loading the two was several milliseconds of
// every command's start (#17 item 3). http2, https, tls and dns (grpc-js's and
// the API package's) load when a command makes its first call, so that
// `--help`, `completion` and a command refused for its flags do not load them
// (some 200 fewer fresh pages for --help). net stays: quick-ip-checks.ts replaces two of
// its functions on the real module before anything dials.
const LAZY = ['child_process', 'zlib', 'http2', 'https', 'tls', 'dns'];
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

module.exports = {
  name: 'lazy-builtins',
  setup(build) {
    const filter = new RegExp(`^(node:)?(${LAZY.join('|')})$`);
    build.onResolve({ filter }, (args) => (args.namespace === 'file' ? { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({ contents: standIn(args.path), loader: 'js' }));
  },
};
