import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import type { FileData, FileKind, FileReference, Task } from '@pisched/api';
import type { Logger } from 'pino';

// Promisified at each call, not when the module loads: the bundle loads child_process at its first use (packages/agent/bundle.js).
const run = (file: string, args: string[]) => promisify(execFile)(file, args);
const TASK_DIR = /^[a-zA-Z0-9_.-]+$/;

/** How the agent mounts and unmounts; a seam for unit tests, which cannot mount. */
export interface MountSystem {
  mountTmpfs(dir: string, sizeBytes: number): Promise<void>;
  unmount(dir: string): Promise<void>;
  /** Mount points now mounted, as /proc/self/mountinfo lists them. */
  mountPoints(): string[];
}

export const linuxMounts: MountSystem = {
  async mountTmpfs(dir, sizeBytes) {
    // 0700: only root on the node reaches the files; the container gets each one by a bind mount.
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700,nosuid,nodev,noexec`, 'tmpfs', dir]);
  },
  async unmount(dir) {
    await run('umount', [dir]);
  },
  mountPoints() {
    // Field 5 of each line is the mount point, with spaces and the like octal-escaped.
    return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((line) => line.split(' ')[4].replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
  },
};

/** The missing secret or config a task needs; its task is rejected with this message. */
export class MissingFileError extends Error {
  override name = 'MissingFileError';
}

/**
 * Secrets and configs as files in containers, never on the node's disk: each
 * task gets a tmpfs of its own under `root` (a directory named after the
 * task), the agent writes the task's files there with their owner and mode,
 * and each is bind-mounted read-only at its target. The tmpfs is unmounted
 * when the task's container is removed. Values live in this process's memory
 * (the latest assignment set's) and on those tmpfs mounts, nowhere else.
 */
export class SecretMounts {
  private values: Record<FileKind, Map<string, Buffer>> = { secret: new Map(), config: new Map() };

  readonly root: string;

  constructor(
    root: string,
    private readonly log: Logger,
    private readonly system: MountSystem = linuxMounts,
  ) {
    // Absolute, as /proc/self/mountinfo names mount points.
    this.root = path.resolve(root);
  }

  /** The values the scheduler sent with the latest assignment set: exactly what this node's tasks use. */
  setValues(secrets: readonly FileData[], configs: readonly FileData[]): void {
    this.values = {
      secret: new Map(secrets.map((file) => [file.name, Buffer.from(file.data)])),
      config: new Map(configs.map((file) => [file.name, Buffer.from(file.data)])),
    };
  }

  /**
   * The task's files written on a fresh tmpfs; resolves with the engine's
   * bind mounts for them (none, and no tmpfs, for a task without any).
   */
  async prepare(task: Task): Promise<Docker.MountSettings[]> {
    const wanted: [FileKind, FileReference][] = [
      ...(task.spec?.container?.secrets ?? []).map((reference) => ['secret', reference] as [FileKind, FileReference]),
      ...(task.spec?.container?.configs ?? []).map((reference) => ['config', reference] as [FileKind, FileReference]),
    ];
    if (wanted.length === 0) return [];
    const files = wanted.map(([kind, reference]) => {
      const data = this.values[kind].get(reference.source);
      if (!data) throw new MissingFileError(`${kind} ${reference.source} was not given to this node`);
      return { kind, reference, data };
    });
    const dir = this.taskDir(task.id);
    // A left-over from an earlier attempt at this task: start clean.
    await this.release(task.id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const size = files.reduce((sum, file) => sum + file.data.length, 0);
    await this.system.mountTmpfs(dir, Math.max(1 << 20, size * 2));
    try {
      return files.map(({ kind, reference, data }, index) => {
        // Numbered, not named after the secret: a name says nothing to anyone listing the directory.
        const file = path.join(dir, `${kind}-${index}`);
        fs.writeFileSync(file, data, { mode: 0o600 });
        fs.chownSync(file, reference.uid, reference.gid);
        fs.chmodSync(file, reference.mode);
        return { Type: 'bind', Source: file, Target: reference.target, ReadOnly: true } as Docker.MountSettings;
      });
    } catch (error) {
      await this.release(task.id);
      throw error;
    }
  }

  /** Unmounts and removes a task's tmpfs, if it has one. */
  async release(taskId: string): Promise<void> {
    if (!TASK_DIR.test(taskId)) return; // a container without a task label has no files
    const dir = this.taskDir(taskId);
    if (!fs.existsSync(dir)) return;
    // A tmpfs mounted twice over (never meant, but a crash between steps could) is peeled off entirely.
    while (this.system.mountPoints().includes(dir)) await this.system.unmount(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    this.log.debug({ taskId }, 'secret files removed');
  }

  /** Releases every task directory under root but those of `keep`: what a crash or a removed container left. */
  async releaseAllBut(keep: ReadonlySet<string>): Promise<void> {
    let entries: string[];
    try {
      entries = fs.readdirSync(this.root);
    } catch {
      return; // no root yet: nothing was ever mounted
    }
    for (const taskId of entries) {
      if (keep.has(taskId) || !TASK_DIR.test(taskId)) continue;
      try {
        await this.release(taskId);
        this.log.info({ taskId }, 'removed secret files of a task whose container is gone');
      } catch (error) {
        this.log.warn({ taskId, err: (error as Error).message }, 'cannot remove secret files; will retry');
      }
    }
  }

  private taskDir(taskId: string): string {
    if (!TASK_DIR.test(taskId)) throw new Error(`invalid task id "${taskId}"`);
    return path.join(this.root, taskId);
  }
}
