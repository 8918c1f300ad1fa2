// What both daemons' and the CLI's esbuild bundles share (packages/cli/bundle.js,
// packages/agent/bundle.js): one CommonJS file for the Node version we support.
module.exports = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Less text to read, parse and hold; names are kept so a stack trace still reads.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
};
