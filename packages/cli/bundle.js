// Writes dist/bundle/pisched.js: the CLI and its JS dependencies in one file,
// which bin/pisched.js starts instead of dist/main.js. Resolving, reading and
// compiling some 400 modules was most of a command's start (#17 item 3).
// It sits two levels under packages/cli, as dist/stack/*.js does, so that
// compose-schema finds ../../schema from either.
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const esbuild = require('esbuild');
const lazyBuiltins = require('./lazy-builtins');
const plainNamespaces = require('../../scripts/plain-namespaces');
const NODE_BUNDLE_OPTIONS = require('../../scripts/node-bundle-options');

const outfile = path.join(__dirname, 'dist/bundle/pisched.js');
/** Node's CommonJS wrapper, the same text bin/pisched.js looks for. */
const WRAPPER = '(function (exports, require, module, __filename, __dirname) {';
// build, not buildSync: plugins need the asynchronous API.
const built = esbuild.build({
  entryPoints: [path.join(__dirname, 'dist/main.js')],
  outfile,
  ...NODE_BUNDLE_OPTIONS,
  // Loaded from node_modules by the few commands that need them, so that the
  // file every command reads and compiles stays small: dockerode (native addons
  // through ssh2) for `run`/`update`, YAML and the schema validator for the
  // stack commands, the X.509 library for `admin issue`.
  external: ['dockerode', 'yaml', 'ajv', '@peculiar/x509', 'reflect-metadata'],
  // import() becomes require(): the bundle runs through vm.Script (bin/pisched.js), which has no loader for import().
  supported: { 'dynamic-import': false },
  plugins: [lazyBuiltins],
  // Short local names: a quarter less text to read at every start (976 -> 713 kB).
  // A stack trace of an internal error names bundled functions by their short
  // names; its file, line and column still point into this one file.
  minifyIdentifiers: true,
  // Written as the module function bin/pisched.js compiles (it checks for this
  // first line), so that it need not add the wrapper to the text itself.
  banner: { js: WRAPPER },
  footer: { js: '\n});' },
});

built.then(rewriteNamespaces).then(requireAscii).then(warmCodeCache).catch((error) => {
  console.error(`bundle.js: ${error.message}`);
  process.exit(1);
});

// The namespace a command's import() gets (dockerode, YAML, the X.509 library)
// as the agent's bundle makes it: one object, not a getter per export.
function rewriteNamespaces() {
  fs.writeFileSync(outfile, plainNamespaces(fs.readFileSync(outfile, 'latin1')), 'latin1');
}

// bin/pisched.js reads the bundle as Latin-1, one byte a character, which
// spares the UTF-8 decoder's copies; that reads ASCII as it is and nothing else.
// esbuild escapes what is not ASCII in strings but leaves it in a regular expression.
function requireAscii() {
  const text = fs.readFileSync(outfile);
  const at = text.findIndex((byte) => byte > 0x7f);
  if (at >= 0) {
    const line = text.subarray(0, at).toString('latin1').split('\n').length;
    throw new Error(`${outfile}:${line} has a character that is not ASCII; write it as an escape (\\u00b5) in the source`);
  }
}

// The V8 code cache bin/pisched.js reads, made by real starts so that it holds
// what a start compiles: `--help` builds every command; then `ls`, with
// throwaway credentials against a closed port, adds the path to a call
// (grpc-js's channel and connection, the TLS context, the message types),
// which would otherwise be compiled anew at every command that calls.
async function warmCodeCache() {
  fs.rmSync(`${outfile}.cache`, { force: true });
  const bin = path.join(__dirname, 'bin/pisched.js');
  const help = spawnSync(process.execPath, [bin, '--help'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (help.status !== 0 || !fs.existsSync(`${outfile}.cache`)) {
    throw new Error(`the bundled CLI did not start (${help.status ?? help.signal}) or wrote no code cache`);
  }
  const helpOnly = fs.statSync(`${outfile}.cache`).size;
  const { createClusterCa, issueIdentity, writeIdentity } = require('@pisched/api');
  const tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-bundle-'));
  try {
    writeIdentity(tlsDir, 'admin', await issueIdentity(await createClusterCa(), 'admin', 'admin'));
    const call = spawnSync(process.execPath, [bin, 'ls', '--scheduler', `127.0.0.1:${await closedPort()}`, '--tls-dir', tlsDir], {
      env: { ...process.env, PISCHED_ADD_TO_CODE_CACHE: '1' },
      encoding: 'utf8',
    });
    if (!/cannot reach scheduler/.test(call.stderr) || fs.statSync(`${outfile}.cache`).size <= helpOnly) {
      throw new Error(`the bundled CLI's ls against a closed port did not add to the code cache: ${call.stderr.trim()}`);
    }
  } finally {
    fs.rmSync(tlsDir, { recursive: true, force: true });
  }
}

/** A loopback port nothing listens on: one the system just gave out and took back. */
function closedPort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
