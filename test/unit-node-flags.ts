import * as fs from 'node:fs';
import * as path from 'node:path';

const SYSTEMD = path.resolve(__dirname, '../packaging/systemd');

function unitText(unit: string, systemdDir: string): string {
  return fs.readFileSync(path.join(systemdDir, unit), 'utf8');
}

/** The node flags a packaged systemd unit starts its daemon with (ExecStart=@NODE@ FLAGS …/bin/NAME.js). */
export function unitNodeFlags(unit: string, systemdDir = SYSTEMD): string[] {
  const execStart = /^ExecStart=@NODE@ (.*)$/m.exec(unitText(unit, systemdDir))?.[1];
  if (execStart === undefined) throw new Error(`${unit}: no ExecStart=@NODE@ line`);
  const words = execStart.split(/\s+/);
  return words.slice(0, words.findIndex((word) => word.endsWith('.js')));
}

/** The variables a packaged systemd unit sets for its daemon (`Environment=NAME=value` lines, one assignment each). */
export function unitEnvironment(unit: string, systemdDir = SYSTEMD): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [, name, value] of unitText(unit, systemdDir).matchAll(/^Environment=(\w+)=(.*)$/gm)) env[name!] = value!;
  return env;
}
