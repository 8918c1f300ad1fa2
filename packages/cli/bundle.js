// Writes dist/bundle/pisched.js: the CLI and its JS dependencies in one file,
// which bin/pisched.js starts instead of dist/main.js. Resolving, reading and
// compiling some 400 modules was most of a command's start (#17 item 3).
// It sits two levels under packages/cli, as dist/stack/*.js does, so that
// compose-schema finds ../../schema from either.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const esbuild = require('esbuild');
const lazyBuiltins = require('./lazy-builtins');

const outfile = path.join(__dirname, 'dist/bundle/pisched.js');
// build, not buildSync: plugins need the asynchronous API.
const built = esbuild.build({
  entryPoints: [path.join(__dirname, 'dist/main.js')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Less text to read and parse; names are kept so an internal error's stack still reads.
  minifyWhitespace: true,
  minifySyntax: true,
  // Loaded from node_modules by the few commands that need them, so that the
  // file every command reads and compiles stays small: dockerode (native addons
  // through ssh2) for `run`/`update`, YAML and the schema validator for the
  // stack commands, the X.509 library for `admin issue`.
  external: ['dockerode', 'yaml', 'ajv', '@peculiar/x509', 'reflect-metadata'],
  // import() becomes require(): the bundle runs through vm.Script (bin/pisched.js), which has no loader for import().
  supported: { 'dynamic-import': false },
  plugins: [lazyBuiltins],
  logLevel: 'warning',
});

built.then(warmCodeCache, (error) => {
  console.error(`bundle.js: ${error.message}`);
  process.exit(1);
});

// The V8 code cache bin/pisched.js reads: made by one real start, so that it
// holds what a start compiles (commander, the commands, grpc-js's module code).
function warmCodeCache() {
  fs.rmSync(`${outfile}.cache`, { force: true });
  const warm = spawnSync(process.execPath, [path.join(__dirname, 'bin/pisched.js'), '--help'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (warm.status !== 0 || !fs.existsSync(`${outfile}.cache`)) {
    console.error(`bundle.js: the bundled CLI did not start (${warm.status ?? warm.signal}) or wrote no code cache`);
    process.exit(1);
  }
}
