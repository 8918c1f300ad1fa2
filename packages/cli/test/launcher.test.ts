import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// bin/pisched.js on a layout of its own (packages/cli and packages/api as they are installed), with
// stand-ins for dist/main.js and the bundle that say which of them ran and how the bundle was loaded.
const LAUNCHER = path.resolve(__dirname, '../bin/pisched.js');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-launcher-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const cli = path.join(root, 'cli');
const bundle = path.join(cli, 'dist/bundle/pisched.js');
fs.mkdirSync(path.join(cli, 'bin'), { recursive: true });
fs.mkdirSync(path.dirname(bundle), { recursive: true });
fs.mkdirSync(path.join(root, 'api'), { recursive: true });
fs.copyFileSync(LAUNCHER, path.join(cli, 'bin/pisched.js'));
fs.writeFileSync(path.join(cli, 'dist/main.js'), "process.stdout.write('main ' + process.argv.slice(2).join(' '));\n");
fs.writeFileSync(
  bundle,
  "process.stdout.write(['bundle', __filename === require('path').join(__dirname, 'pisched.js'), typeof require('node:path').join, module.exports === exports, ...process.argv.slice(2)].join(' '));\n",
);
fs.writeFileSync(path.join(cli, 'tsconfig.tsbuildinfo'), '{}');
fs.writeFileSync(path.join(root, 'api/tsconfig.tsbuildinfo'), '{}');

function setTimes(file: string, secondsAgo: number): void {
  const at = new Date(Date.now() - secondsAgo * 1000);
  fs.utimesSync(file, at, at);
}

function run(...args: string[]): string {
  return runWith({}, ...args);
}

function runWith(env: NodeJS.ProcessEnv, ...args: string[]): string {
  const result = spawnSync(process.execPath, [path.join(cli, 'bin/pisched.js'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

describe('bin/pisched.js', () => {
  it('runs the bundle as a module of its own (require, __filename, exports), with the arguments given', () => {
    setTimes(path.join(cli, 'tsconfig.tsbuildinfo'), 60);
    setTimes(path.join(root, 'api/tsconfig.tsbuildinfo'), 60);
    setTimes(bundle, 10);
    expect(run('ls', '--json')).toBe('bundle true function true ls --json');
  });

  it('runs a bundle written inside the module wrapper (as bundle.js writes it) as that function, not as a script', () => {
    const plain = fs.readFileSync(bundle, 'utf8');
    try {
      fs.writeFileSync(bundle, `(function (exports, require, module, __filename, __dirname) {\n${plain}\n});`);
      setTimes(bundle, 10);
      expect(run('ps')).toBe('bundle true function true ps');
      // One byte a character (Latin-1; bundle.js lets only ASCII through): 0xB5 is µ, where UTF-8 would read it as U+FFFD.
      fs.writeFileSync(bundle, Buffer.concat([Buffer.from("(function (exports, require, module, __filename, __dirname) {\nprocess.stdout.write('"), Buffer.from([0xb5]), Buffer.from("');\n});")]));
      expect(run('ps')).toBe('\u00b5');
    } finally {
      fs.writeFileSync(bundle, plain);
      fs.rmSync(`${bundle}.cache`, { force: true });
      setTimes(bundle, 10);
    }
  });

  it('writes the code cache on the first start and keeps it after', () => {
    fs.rmSync(`${bundle}.cache`, { force: true });
    run('--help');
    const made = fs.statSync(`${bundle}.cache`);
    expect(made.size).toBeGreaterThan(0);
    run('--help');
    // Accepted by V8, so not written again.
    expect(fs.statSync(`${bundle}.cache`).mtimeMs).toBe(made.mtimeMs);
  });

  it('writes the accepted code cache again with PISCHED_ADD_TO_CODE_CACHE=1 (bundle.js adds a second start to it)', () => {
    const before = fs.statSync(`${bundle}.cache`).mtimeMs;
    setTimes(`${bundle}.cache`, 20);
    const aged = fs.statSync(`${bundle}.cache`).mtimeMs;
    expect(aged).toBeLessThan(before);
    run('ls');
    expect(fs.statSync(`${bundle}.cache`).mtimeMs).toBe(aged);
    runWith({ PISCHED_ADD_TO_CODE_CACHE: '1' }, 'ls');
    expect(fs.statSync(`${bundle}.cache`).mtimeMs).toBeGreaterThan(aged);
  });

  it('makes a new code cache when V8 rejects the one it finds (another node, another bundle)', () => {
    fs.writeFileSync(`${bundle}.cache`, 'not a code cache');
    expect(run('ps')).toBe('bundle true function true ps');
    expect(fs.readFileSync(`${bundle}.cache`, 'utf8')).not.toBe('not a code cache');
  });

  it('runs dist/main.js when the bundle is older than the last TypeScript build of the CLI or of api (tsc -b alone)', () => {
    setTimes(bundle, 30);
    setTimes(path.join(cli, 'tsconfig.tsbuildinfo'), 10);
    expect(run('ls')).toBe('main ls');
    setTimes(path.join(cli, 'tsconfig.tsbuildinfo'), 60);
    setTimes(path.join(root, 'api/tsconfig.tsbuildinfo'), 10);
    expect(run('ls')).toBe('main ls');
    setTimes(path.join(root, 'api/tsconfig.tsbuildinfo'), 60);
    expect(run('ls')).toBe('bundle true function true ls');
  });

  it('runs the bundle when there is no TypeScript build info (an installed release)', () => {
    fs.rmSync(path.join(cli, 'tsconfig.tsbuildinfo'));
    fs.rmSync(path.join(root, 'api/tsconfig.tsbuildinfo'));
    expect(run('ls')).toBe('bundle true function true ls');
  });

  it('runs dist/main.js when there is no bundle', () => {
    fs.rmSync(bundle);
    expect(run('node', 'ls')).toBe('main node ls');
  });
});
