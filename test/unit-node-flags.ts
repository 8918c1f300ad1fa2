import * as fs from 'node:fs';
import * as path from 'node:path';

const SYSTEMD = path.resolve(__dirname, '../packaging/systemd');

/** The node flags a packaged systemd unit starts its daemon with (ExecStart=@NODE@ FLAGS …/bin/NAME.js). */
export function unitNodeFlags(unit: string): string[] {
  const text = fs.readFileSync(path.join(SYSTEMD, unit), 'utf8');
  const execStart = /^ExecStart=@NODE@ (.*)$/m.exec(text)?.[1];
  if (execStart === undefined) throw new Error(`${unit}: no ExecStart=@NODE@ line`);
  const words = execStart.split(/\s+/);
  return words.slice(0, words.findIndex((word) => word.endsWith('.js')));
}
