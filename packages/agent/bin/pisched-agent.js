#!/usr/bin/env node
'use strict';
// Starts the agent from its bundle (dist/bundle/pisched-agent.js, made by
// `npm run build`; packages/agent/bundle.js says what it leaves out). A bundle
// older than the last TypeScript build (`tsc -b` alone) is stale: then
// dist/main.js runs. An installed release has no build info, only its bundle.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const bundle = path.join(root, 'dist', 'bundle', 'pisched-agent.js');

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

const built = Math.max(mtime(path.join(root, 'tsconfig.tsbuildinfo')), mtime(path.join(root, '..', 'api', 'tsconfig.tsbuildinfo')));
require(mtime(bundle) >= 0 && mtime(bundle) >= built ? bundle : '../dist/main.js');
