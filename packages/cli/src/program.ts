import { Command, CommanderError } from 'commander';
import { registerCluster } from './commands/cluster';
import { registerInspect } from './commands/inspect';
import { registerLs } from './commands/ls';
import { registerLogs } from './commands/logs';
import { registerEvents } from './commands/events';
import { registerNode } from './commands/node';
import { registerPs } from './commands/ps';
import { registerRm } from './commands/rm';
import { registerRun } from './commands/run';
import { registerScale } from './commands/scale';
import { registerUpdate } from './commands/update';
import { registerRollback } from './commands/rollback';
import { registerRebalance } from './commands/rebalance';
import { registerJoinToken } from './commands/join-token';
import { registerAdmin } from './commands/admin';
import { registerStack } from './commands/stack';
import { registerFileObjects } from './commands/file-objects';
import { registerNetwork } from './commands/network';
import { registerImage } from './commands/image';
import { registerCompletion } from './commands/completion';
import { registerDashboard } from './commands/dashboard';
import { Context } from './context';
import { CliError, oneLine } from './errors';

type Register = (program: Command, context: Context) => void;

/**
 * The top-level commands in the order help lists them. Each registers itself
 * alone, so that a command line naming one of them builds just that one
 * (see buildProgram); `completion` is not here: it reads every command.
 */
const COMMANDS: [name: string, register: Register][] = [
  ['run', registerRun],
  ['ls', registerLs],
  ['ps', registerPs],
  ['inspect', registerInspect],
  ['logs', registerLogs],
  ['events', registerEvents],
  ['scale', registerScale],
  ['update', registerUpdate],
  ['rollback', registerRollback],
  ['rebalance', registerRebalance],
  ['rm', registerRm],
  ['node', registerNode],
  ['cluster', registerCluster],
  ['join-token', registerJoinToken],
  ['admin', registerAdmin],
  ['stack', registerStack],
  ['secret', (program, context) => registerFileObjects(program, context, 'secret')],
  ['config', (program, context) => registerFileObjects(program, context, 'config')],
  ['dashboard', registerDashboard],
  ['network', registerNetwork],
  ['image', registerImage],
];

/** The options the program itself takes before a command; each has a value. */
const PROGRAM_OPTIONS = new Set(['--scheduler', '--tls-dir']);

/**
 * The command a command line names, when its first word after the program's
 * own options is one; undefined for anything else (help, --help, a typo, an
 * option commander alone understands), which needs the whole program.
 */
export function namedCommand(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (PROGRAM_OPTIONS.has(word)) i++;
    // --scheduler=X goes on; any other option is for commander to read.
    else if (word.startsWith('-')) {
      if (!PROGRAM_OPTIONS.has(word.split('=')[0])) return undefined;
    } else return COMMANDS.some(([name]) => name === word) ? word : undefined;
  }
  return undefined;
}

/**
 * The CLI's commands. With argv naming one command, only that one is built:
 * making all of them (some hundred options through commander) was a tenth of
 * a quick command's start (#17 item 3); what it parses is the same either way.
 */
export function buildProgram(context: Context, argv?: string[]): Command {
  const program = new Command('pisched')
    .description('run and watch services on a pisched cluster')
    .option('--scheduler <HOST:PORT[,HOST:PORT...]>', 'scheduler address(es), tried in order (env PISCHED_SCHEDULER, default 127.0.0.1:7700)')
    .option('--tls-dir <DIR>', 'admin credentials (ca.pem, admin.pem, admin.key); else PISCHED_TLS_DIR, ~/.config/pisched, or a local scheduler\'s data dir')
    // Lets `run` stop option parsing at IMAGE, so the container's own flags pass through.
    .enablePositionalOptions()
    // Suggestions come on a second line; bad input must be one line.
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`${oneLine(text)}\n`) });
  const only = argv === undefined ? undefined : namedCommand(argv);
  for (const [name, register] of COMMANDS) {
    if (only === undefined || name === only) register(program, context);
  }
  if (only === undefined) registerCompletion(program, context, () => program.opts<{ scheduler?: string }>().scheduler);
  for (const command of allCommands(program)) {
    if (command === program) continue;
    command.exitOverride().showSuggestionAfterError(false).configureOutput({ outputError: (text, write) => write(`${oneLine(text)}\n`) });
    // Positional options would otherwise refuse `pisched ls --scheduler X`, the order people type.
    if (command.commands.length === 0) {
      command.option('--scheduler <HOST:PORT[,HOST:PORT...]>', 'scheduler address(es), as before the command');
      command.option('--tls-dir <DIR>', 'admin credentials, as before the command');
    }
  }
  return program;
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

/** Runs the CLI on argv (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let program: Command | undefined;
  let action: Command | undefined;
  const context = new Context(
    () => action?.opts<{ scheduler?: string }>().scheduler ?? program?.opts<{ scheduler?: string }>().scheduler,
    undefined,
    undefined,
    undefined,
    () => action?.opts<{ tlsDir?: string }>().tlsDir ?? program?.opts<{ tlsDir?: string }>().tlsDir,
  );
  program = buildProgram(context, argv);
  program.hook('preAction', (_program, command) => {
    action = command;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has already printed its one line (or the help/version text).
      return error.exitCode;
    }
    if (error instanceof CliError) {
      process.stderr.write(`${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`pisched: internal error: ${oneLine(error instanceof Error ? error.stack ?? error.message : String(error))}\n`);
    return 2;
  } finally {
    context.close();
  }
}
