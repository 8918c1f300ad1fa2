import { SpecError, parsePlatform, validatePlatforms, type Platform } from '@pisched/api';
import type { Command } from 'commander';
import { CliError } from './errors';
import { collect } from './flags';

/** --platform and --no-resolve-image, as commander hands them over. */
export interface PlatformOptions {
  platform?: string[];
  /** commander's reading of --no-resolve-image: false when given. */
  resolveImage?: boolean;
}

/** Finds the platforms of an image the local engine has; none when it cannot tell. */
export type ImageResolver = (image: string) => Promise<Platform[]>;

export function addPlatformFlags(command: Command, what: string): Command {
  return command
    .option('--platform <os/arch>', `the platform the image runs on, e.g. linux/arm64 or linux/arm/v7 (repeatable); ${what}`, collect, [])
    .option('--no-resolve-image', 'do not read the image\'s platform from the local Docker engine; record none, so any node may run it');
}

/** The --platform flags, validated and canonical; undefined when none were given. */
export function explicitPlatforms(options: PlatformOptions): Platform[] | undefined {
  if (!options.platform || options.platform.length === 0) return undefined;
  try {
    return validatePlatforms(options.platform.map(parsePlatform));
  } catch (error) {
    if (error instanceof SpecError) throw new CliError(error.message);
    throw error;
  }
}

/** `run`: the flags' platforms, else the local image's (unless --no-resolve-image). */
export async function platformsForRun(image: string, options: PlatformOptions, resolve: ImageResolver): Promise<Platform[]> {
  const explicit = explicitPlatforms(options);
  if (explicit) return explicit;
  if (options.resolveImage === false) return [];
  return resolve(image);
}

/**
 * `update`: the flags' platforms; else, when the image is given, the new
 * image's as the local engine has it (none with --no-resolve-image, since the
 * old image's platforms say nothing about the new one); else unchanged.
 */
export async function platformsForUpdate(current: Platform[], image: string | undefined, options: PlatformOptions, resolve: ImageResolver): Promise<Platform[]> {
  const explicit = explicitPlatforms(options);
  if (explicit) return explicit;
  if (image === undefined) return current;
  if (options.resolveImage === false) return [];
  return resolve(image);
}
