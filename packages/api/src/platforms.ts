import { normalizeArch } from './placement-rules';
import { SpecError } from './spec-error';
import type { Platform } from './types';

/**
 * Image and node platforms (Swarm's Placement.Platforms). The CLI, the
 * scheduler's validation and its placement filter all read them through
 * here, so `--platform linux/aarch64`, an image inspected as arm + v8 and a
 * node reporting aarch64 all become `linux/arm64`.
 */

// Go's GOARCH names as OCI uses them, arm with its variant. A name outside
// this list is almost surely a typo that would leave tasks pending forever.
const KNOWN_ARCHITECTURES = new Set([
  'amd64', '386', 'arm64', 'arm/v5', 'arm/v6', 'arm/v7', 'ppc64le', 'ppc64', 's390x', 'riscv64',
  'mips', 'mipsle', 'mips64', 'mips64le', 'loong64',
]);
const OS_PATTERN = /^[a-z][a-z0-9]*$/;

/** True for the architectures placement knows (in canonical form, see normalizeArch). */
export function isKnownArchitecture(architecture: string): boolean {
  return KNOWN_ARCHITECTURES.has(architecture);
}

/** The platform in canonical form (lower-case os, OCI architecture), or a SpecError naming what is wrong. */
export function normalizePlatform(input: { os?: string | null; architecture?: string | null }): Platform {
  const os = (input.os ?? '').trim().toLowerCase();
  // amd64's micro-architecture levels (amd64/v3) are not a different platform for placement.
  const architecture = normalizeArch(input.architecture ?? '').replace(/^amd64\/v[1-4]$/, 'amd64');
  const text = `${input.os ?? ''}/${input.architecture ?? ''}`;
  if (os === '') throw new SpecError(`invalid platform "${text}": the os is empty (expected OS/ARCH, e.g. linux/arm64)`);
  if (!OS_PATTERN.test(os)) throw new SpecError(`invalid platform "${text}": "${os}" is not an os name (e.g. linux)`);
  if (architecture === '') throw new SpecError(`invalid platform "${text}": the architecture is empty (expected OS/ARCH, e.g. linux/arm64)`);
  if (!KNOWN_ARCHITECTURES.has(architecture)) {
    throw new SpecError(`invalid platform "${text}": unknown architecture "${input.architecture}"; use e.g. amd64, arm64, arm/v7, arm/v6 or 386`);
  }
  return { os, architecture };
}

/**
 * `--platform` as docker reads it: OS/ARCH[/VARIANT] (linux/arm64,
 * linux/arm/v7), or ARCH[/VARIANT] alone for linux.
 */
export function parsePlatform(input: string): Platform {
  const parts = input.trim().split('/');
  if (parts.some((part) => part.trim() === '') || parts.length > 3) {
    throw new SpecError(`invalid platform "${input}": expected OS/ARCH[/VARIANT], e.g. linux/arm64 or linux/arm/v7`);
  }
  // One part, or arch/variant (arm/v7, arm64/v8): the os is left out.
  const osGiven = parts.length === 3 || (parts.length === 2 && !/^v\d+$/.test(parts[1]));
  const os = osGiven ? parts[0] : 'linux';
  const architecture = (osGiven ? parts.slice(1) : parts).join('/');
  try {
    return normalizePlatform({ os, architecture });
  } catch (error) {
    if (error instanceof SpecError) throw new SpecError(error.message.replace(`"${os}/${architecture}"`, `"${input}"`));
    throw error;
  }
}

/** An image's platform as the engine's image inspect gives it (Architecture "arm", Variant "v7"). */
export function imagePlatform(image: { Os?: string; Architecture?: string; Variant?: string }): Platform {
  // Only arm's variant names a different platform (v6 vs v7); arm64/v8 and amd64/v3 are arm64 and amd64.
  const architecture = image.Architecture === 'arm' && image.Variant ? `arm/${image.Variant}` : (image.Architecture ?? '');
  return normalizePlatform({ os: image.Os, architecture });
}

export function formatPlatform(platform: Platform): string {
  return `${platform.os}/${platform.architecture}`;
}

/** Validated, canonical and without duplicates, in the order given. */
export function validatePlatforms(input: ReadonlyArray<{ os?: string | null; architecture?: string | null }>): Platform[] {
  const seen = new Set<string>();
  const platforms: Platform[] = [];
  for (const entry of input) {
    const platform = normalizePlatform(entry);
    const key = formatPlatform(platform);
    if (seen.has(key)) continue;
    seen.add(key);
    platforms.push(platform);
  }
  return platforms;
}

/**
 * What else a node of each architecture runs natively, as Docker's own
 * platform matcher (containerd's platforms.Only) allows: 64-bit ARM runs
 * 32-bit ARM images, a newer ARM variant runs the older ones, amd64 runs 386.
 */
const ALSO_RUNS: Record<string, readonly string[]> = {
  amd64: ['386'],
  arm64: ['arm/v7', 'arm/v6', 'arm/v5'],
  'arm/v7': ['arm/v6', 'arm/v5'],
  'arm/v6': ['arm/v5'],
};

/** Whether a node of this (normalised) os and architecture can run an image built for `image`. */
export function nodeRunsPlatform(node: { os: string; arch: string }, image: Platform): boolean {
  if (node.os !== image.os) return false;
  return node.arch === image.architecture || (ALSO_RUNS[node.arch] ?? []).includes(image.architecture);
}
