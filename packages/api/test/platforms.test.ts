import { describe, expect, it } from 'vitest';
import { formatPlatform, imagePlatform, nodeRunsPlatform, normalizePlatform, parsePlatform } from '../src/platforms';
import { SpecError, validateServiceSpec } from '../src/service-spec';

const text = (input: string) => formatPlatform(parsePlatform(input));

describe('--platform values', () => {
  it.each([
    ['linux/arm64', 'linux/arm64'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/x86_64', 'linux/amd64'],
    ['LINUX/AMD64', 'linux/amd64'],
    ['linux/amd64/v3', 'linux/amd64'],
    ['linux/arm/v7', 'linux/arm/v7'],
    ['linux/armv7l', 'linux/arm/v7'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['linux/i686', 'linux/386'],
    ['arm64', 'linux/arm64'],
    ['arm/v7', 'linux/arm/v7'],
    [' windows/amd64 ', 'windows/amd64'],
  ])('reads %j as %s', (input, expected) => {
    expect(text(input)).toBe(expected);
  });

  it.each([
    ['', 'invalid platform "": expected OS/ARCH[/VARIANT], e.g. linux/arm64 or linux/arm/v7'],
    ['linux/', 'invalid platform "linux/": expected OS/ARCH[/VARIANT], e.g. linux/arm64 or linux/arm/v7'],
    ['linux/arm/v7/x', 'invalid platform "linux/arm/v7/x": expected OS/ARCH[/VARIANT], e.g. linux/arm64 or linux/arm/v7'],
    ['linux/amd46', 'invalid platform "linux/amd46": unknown architecture "amd46"; use e.g. amd64, arm64, arm/v7, arm/v6 or 386'],
    ['lin-ux/arm64', 'invalid platform "lin-ux/arm64": "lin-ux" is not an os name (e.g. linux)'],
  ])('refuses %j with one line', (input, message) => {
    expect(() => parsePlatform(input)).toThrow(SpecError);
    expect(() => parsePlatform(input)).toThrow(message);
  });

  it('names what is missing in a platform object', () => {
    expect(() => normalizePlatform({ os: '', architecture: 'arm64' })).toThrow('invalid platform "/arm64": the os is empty (expected OS/ARCH, e.g. linux/arm64)');
    expect(() => normalizePlatform({ os: 'linux', architecture: ' ' })).toThrow('the architecture is empty');
  });
});

describe('image platforms from the engine', () => {
  it('join arm and its variant, and drop the variants that name no other platform', () => {
    expect(imagePlatform({ Os: 'linux', Architecture: 'arm', Variant: 'v6' })).toEqual({ os: 'linux', architecture: 'arm/v6' });
    expect(imagePlatform({ Os: 'linux', Architecture: 'arm' })).toEqual({ os: 'linux', architecture: 'arm/v7' });
    expect(imagePlatform({ Os: 'linux', Architecture: 'arm64', Variant: 'v8' })).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(imagePlatform({ Os: 'linux', Architecture: 'amd64' })).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(imagePlatform({ Os: 'Linux', Architecture: 'x86_64' })).toEqual({ os: 'linux', architecture: 'amd64' });
  });
});

describe('which node runs which image', () => {
  const runs = (node: string, image: string) => {
    const [os, ...arch] = node.split('/');
    return nodeRunsPlatform({ os, arch: arch.join('/') }, parsePlatform(image));
  };

  it('matches the same platform', () => {
    expect(runs('linux/amd64', 'linux/amd64')).toBe(true);
    expect(runs('linux/arm64', 'linux/arm64')).toBe(true);
    expect(runs('linux/arm64', 'linux/amd64')).toBe(false);
    expect(runs('linux/amd64', 'linux/arm64')).toBe(false);
    expect(runs('linux/amd64', 'windows/amd64')).toBe(false);
  });

  it('lets a node run the older platforms its CPU runs natively, as Docker does', () => {
    expect(runs('linux/arm64', 'linux/arm/v7')).toBe(true);
    expect(runs('linux/arm/v7', 'linux/arm/v6')).toBe(true);
    expect(runs('linux/amd64', 'linux/386')).toBe(true);
    expect(runs('linux/arm/v7', 'linux/arm64')).toBe(false);
    expect(runs('linux/arm/v6', 'linux/arm/v7')).toBe(false);
    expect(runs('linux/386', 'linux/amd64')).toBe(false);
  });
});

describe('validateServiceSpec: platforms', () => {
  const base = { name: 'web', container: { image: 'busybox' } };

  it('stores them canonical, without duplicates', () => {
    const spec = validateServiceSpec({
      ...base,
      placement: { platforms: [{ os: 'Linux', architecture: 'aarch64' }, { os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'armv7l' }] },
    });
    expect(spec.placement!.platforms).toEqual([{ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm/v7' }]);
    expect(validateServiceSpec(base).placement!.platforms).toEqual([]);
  });

  it('refuses a malformed one with one line', () => {
    const bad = { ...base, placement: { platforms: [{ os: 'linux', architecture: 'sparc9' }] } };
    expect(() => validateServiceSpec(bad)).toThrow(SpecError);
    expect(() => validateServiceSpec(bad)).toThrow('invalid platform "linux/sparc9": unknown architecture "sparc9"');
  });
});
