import type { ModelPath } from './compose-file';
import type { Lookup } from './interpolate';
import type { StackFileObject } from './convert-file-objects';
import type { StackNetwork } from './convert-networks';

/** What converting one service needs to know, and how it reports. */
export interface ConvertContext {
  stack: string;
  service: string;
  /** Relative bind sources and env_file paths are read from here: the first file's directory, as Compose's project directory. */
  projectDir: string;
  lookup: Lookup;
  topVolumes: Record<string, unknown>;
  /** The top-level secrets and configs, which the service's references name by key. */
  fileObjects: readonly StackFileObject[];
  /** The top-level networks and the implicit default, with their pisched names. */
  networks: readonly StackNetwork[];
  /** Throws a one-line error naming the file and line of `path` (relative to the service). */
  fail(path: ModelPath, message: string): never;
  /** Records an ignored key (relative to the service) for the warning line. */
  warn(path: ModelPath): void;
}
