#!/usr/bin/env node
'use strict';
// Starts the CLI from its bundle (dist/bundle/pisched.js, made by `npm run build`)
// with a V8 code cache beside it, so a command does not compile its code anew
// at every start (Node 20 has no module.enableCompileCache). A bundle older
// than the last TypeScript build (`tsc -b` alone) is stale: then dist/main.js
// runs. An installed release has no build info, only the bundle it was built with.
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const bundle = path.join(dist, 'bundle', 'pisched.js');
/** The first line of a bundle written as a module function, in ASCII (bundle.js writes the same text). */
const WRAPPER = '(function (exports, require, module, __filename, __dirname) {';

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

const built = Math.max(mtime(path.join(__dirname, '..', 'tsconfig.tsbuildinfo')), mtime(path.join(__dirname, '..', '..', 'api', 'tsconfig.tsbuildinfo')));
if (mtime(bundle) >= 0 && mtime(bundle) >= built) {
  runCached(bundle);
} else {
  require('../dist/main.js');
}

function runCached(file) {
  const vm = require('node:vm');
  const Module = require('node:module');
  const cacheFile = `${file}.cache`;
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  // bundle.js writes the bundle inside the wrapper Module.wrap would add (the
  // concatenation made a second copy of the 1 MB text: V8 flattens it to
  // compile) and in ASCII alone, read here as Latin-1 without the UTF-8
  // decoder's copies. Fresh memory is most of what a start costs here.
  const bytes = fs.readFileSync(file);
  const wrapped = bytes.subarray(0, WRAPPER.length).toString('latin1') === WRAPPER;
  const source = wrapped ? bytes.toString('latin1') : Module.wrap(bytes.toString('utf8'));
  const script = new vm.Script(source, { filename: file, cachedData });
  // PISCHED_ADD_TO_CODE_CACHE=1 (bundle.js, at build) keeps what the cache holds and adds what this run compiled.
  if (cachedData === undefined || script.cachedDataRejected || process.env.PISCHED_ADD_TO_CODE_CACHE === '1') {
    // Made (again) at exit, when it holds every function this run compiled; a
    // node of another version rejects the old one. Read-only installs keep going without.
    process.once('exit', () => {
      try {
        const temporary = `${cacheFile}.${process.pid}`;
        fs.writeFileSync(temporary, script.createCachedData());
        fs.renameSync(temporary, cacheFile);
      } catch {
        // No cache: the next start compiles as this one did.
      }
    });
  }
  const module = new Module(file, require.main);
  module.filename = file;
  module.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext()(module.exports, Module.createRequire(file), module, file, path.dirname(file));
}
