// An esbuild plugin for bundle.js: Node modules the bundle's libraries require
// when they load but use only now and then stand in the bundle as objects
// with the same names whose values load the real module when first read.
// commander needs child_process only to run external subcommands (never),
// grpc-js zlib only to compress; loading the two was several milliseconds of
// every command's start (#17 item 3). Not dns: grpc-js makes a resolver with
// it for every channel, an IP address or not.
const LAZY = ['child_process', 'zlib'];

function standIn(name) {
  // The names are read off the real module here, at bundle time, in the node that builds the bundle.
  const keys = Object.keys(require(name));
  const getters = keys.map((key) => `${JSON.stringify(key)}: { enumerable: true, get: () => load()[${JSON.stringify(key)}] }`);
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
