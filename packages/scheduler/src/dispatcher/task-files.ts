import { isTerminal, type FileData, type Task } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { openSecret } from '../security/secret-box';
import { referencesOf } from '../control/file-object-use';

export interface TaskFiles {
  secrets: FileData[];
  configs: FileData[];
  /** Names that could not be given (gone from the store, or a secret that does not open): the agent fails those tasks. */
  missing: string[];
}

/**
 * The secret and config values a node's assignment set needs: those of its
 * tasks that are still to run, and nothing else, so a node never holds a
 * secret none of its tasks uses. Secrets are opened here, on the leader, just
 * before they go out over the node's own mutually authenticated session.
 */
export function filesForTasks(state: StateMachine, tasks: readonly Task[]): TaskFiles {
  const wanted = { secret: new Set<string>(), config: new Set<string>() };
  for (const task of tasks) {
    if (task.desiredState !== 'RUNNING' || isTerminal(task.status?.state ?? 'NEW')) continue;
    for (const name of referencesOf(task.spec, 'secret')) wanted.secret.add(name);
    for (const name of referencesOf(task.spec, 'config')) wanted.config.add(name);
  }
  const files: TaskFiles = { secrets: [], configs: [], missing: [] };
  const key = state.security?.secretsKey;
  for (const name of [...wanted.secret].sort()) {
    const secret = [...state.secrets.values()].find((candidate) => candidate.name === name);
    try {
      if (!secret || !key) throw new Error('absent');
      files.secrets.push({ name, data: openSecret(key, secret.id, secret.sealedData) });
    } catch {
      files.missing.push(`secret ${name}`);
    }
  }
  for (const name of [...wanted.config].sort()) {
    const config = [...state.configs.values()].find((candidate) => candidate.name === name);
    if (config) files.configs.push({ name, data: config.data });
    else files.missing.push(`config ${name}`);
  }
  return files;
}
