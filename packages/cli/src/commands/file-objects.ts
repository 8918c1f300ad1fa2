import * as fs from 'node:fs';
import { SpecError, checkFileDataSize, validateFileObjectName, type Config, type FileKind, type Secret } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { ago, isoTime } from '../format';
import { printJson } from '../json-views';
import { renderTable } from '../table';

/** What `ls --json` and `inspect --json` show of a secret (never its value) or a config (its data only in inspect). */
export interface FileObjectRow {
  id: string;
  name: string;
  size: number;
  createdAt: string | null;
  updatedAt: string | null;
  /** Configs in inspect only: the data, base64 as `docker config inspect` shows it. */
  data?: string;
}

export function fileObjectRow(kind: FileKind, object: Secret | Config, withData = false): FileObjectRow {
  const size = kind === 'secret' ? (object as Secret).size : (object as Config).data.length;
  const row: FileObjectRow = { id: object.id, name: object.name, size, createdAt: isoTime(object.meta?.createdAt), updatedAt: isoTime(object.meta?.updatedAt) };
  if (kind === 'config' && withData) row.data = Buffer.from((object as Config).data).toString('base64');
  return row;
}

export function renderFileObjects(objects: FileObjectRow[], now = Date.now()): string {
  return renderTable(
    ['ID', 'NAME', 'SIZE', 'CREATED'],
    objects.map((row) => [row.id, row.name, `${row.size} B`, row.createdAt ? ago(Date.parse(row.createdAt), now) : '-']),
  );
}

export function renderFileObject(kind: FileKind, row: FileObjectRow): string {
  const fields: [string, string][] = [['ID', row.id], ['Name', row.name], ['Size', `${row.size} bytes`], ['Created', row.createdAt ?? '-']];
  if (row.data !== undefined) fields.push(['Data', Buffer.from(row.data, 'base64').toString('utf8')]);
  else if (kind === 'secret') fields.push(['Value', 'never shown']);
  const width = Math.max(...fields.map(([key]) => key.length)) + 1;
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width)} ${value}`).join('\n') + '\n';
}

/** A file's bytes, or stdin's with "-"; the error names the file, never anything read from it. */
async function readValue(file: string): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks);
  }
  try {
    return fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code ?? (error as Error).message}`);
  }
}

function checked<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof SpecError) throw new CliError(error.message);
    throw error;
  }
}

/** `pisched secret …` and `pisched config …`, as Swarm's. */
export function registerFileObjects(program: Command, context: Context, kind: FileKind): void {
  const group = program.command(kind).description(kind === 'secret' ? 'manage secrets: values given to containers as files on tmpfs, never shown again' : 'manage configs: files given to containers');
  group
    .command('create')
    .description(`create a ${kind} from a file, or from stdin with -`)
    .argument('<name>', `${kind} name`)
    .argument('<file>', 'file to read the value from, or - for stdin')
    .action(async (name: string, file: string) => {
      checked(() => validateFileObjectName(kind, name));
      const data = await readValue(file);
      checked(() => checkFileDataSize(kind, data.length));
      const created = await context.client().createFileObject(kind, name, data);
      context.write(`${created.id}\n`);
    });
  group
    .command('ls')
    .description(`list ${kind}s`)
    .option('--json', 'print a JSON array instead of a table')
    .action(async (options: { json?: boolean }) => {
      const rows = (await context.client().listFileObjects(kind)).map((object) => fileObjectRow(kind, object));
      if (options.json) printJson(rows, (text) => context.write(text));
      else context.write(renderFileObjects(rows));
    });
  group
    .command('inspect')
    .description(kind === 'secret' ? 'show a secret\'s name, size and times (never its value)' : 'show a config, its data included')
    .argument('<name>', `${kind} name or id`)
    .option('--json', 'print JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      const row = fileObjectRow(kind, await context.client().getFileObject(kind, name), true);
      if (options.json) printJson(row, (text) => context.write(text));
      else context.write(renderFileObject(kind, row));
    });
  group
    .command('rm')
    .description(`remove ${kind}s no service uses`)
    .argument('<names...>', `${kind} names or ids`)
    .action(async (names: string[]) => {
      for (const name of names) {
        await context.client().removeFileObject(kind, name);
        context.write(`${name}\n`);
      }
    });
}
