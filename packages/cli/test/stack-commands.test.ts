import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import * as path from 'node:path';
import { parse } from 'yaml';
import { buildProgram } from '../src/program';
import { Context } from '../src/context';

const FIXTURES = path.join(__dirname, 'stack-fixtures');

/** Runs the CLI in-process on argv; resolves with what it wrote, or the error it threw. */
async function run(argv: string[]): Promise<{ stdout: string; stderr: string; error?: Error }> {
  let stdout = '';
  let stderr = '';
  const out = new Writable({ write: (chunk, _encoding, done) => { stdout += String(chunk); done(); } });
  const err = new Writable({ write: (chunk, _encoding, done) => { stderr += String(chunk); done(); } });
  // 127.0.0.1:9 (discard): a deploy that got as far as asking the scheduler would fail with "unreachable".
  const context = new Context(() => '127.0.0.1:9', out, async () => [], err);
  try {
    await buildProgram(context).parseAsync(argv, { from: 'user' });
    return { stdout, stderr };
  } catch (error) {
    return { stdout, stderr, error: error as Error };
  } finally {
    context.close();
  }
}

describe('stack commands without a scheduler', () => {
  it('stack config prints the merged, interpolated files', async () => {
    const result = await run(['stack', 'config', '-c', path.join(FIXTURES, 'all-keys.yml'), '-c', path.join(FIXTURES, 'override.yml')]);
    expect(result.error).toBeUndefined();
    const model = parse(result.stdout) as { services: Record<string, { image: string; environment: Record<string, unknown>; deploy: { replicas: number } }> };
    expect(model.services.sensor.image).toBe('registry.local/sensor:2.0');
    expect(model.services.sensor.deploy.replicas).toBe(5);
    expect(model.services.sensor.environment).toMatchObject({ MODE: 'prod', EXTRA: '1', PRICE: '$5' });
  });

  it('stack config --json and the warning line for ignored keys', async () => {
    const result = await run(['stack', 'config', '--json', '-c', path.join(FIXTURES, 'awesome-compose-wordpress-mysql', 'compose.yaml')]);
    expect(Object.keys(JSON.parse(result.stdout).services)).toEqual(['db', 'wordpress', 'phpmyadmin']);
    expect(result.stderr).toBe('warning: ignoring unsupported options: restart (db, wordpress, phpmyadmin), expose (db), depends_on (phpmyadmin)\n');
  });

  it('stack deploy of a bad file fails on the file before asking the scheduler anything', async () => {
    const result = await run(['stack', 'deploy', '-c', path.join(FIXTURES, 'all-keys.yml'), '-c', path.join(FIXTURES, 'missing.yml'), 'iot']);
    expect(result.error?.message).toMatch(/^cannot read compose file .*missing\.yml: ENOENT$/);
    const noFile = await run(['stack', 'deploy', 'iot']);
    expect(noFile.error?.message).toBe('a compose file is required: -c FILE');
  });
});
