import { describe, expect, it } from 'vitest';
import { parseFileMode, validateFileReferences, validateServiceSpec } from '../src';

describe('secret and config references', () => {
  it('fills in Swarm\'s defaults: /run/secrets/NAME for a secret, /NAME for a config, mode 0444, root', () => {
    expect(validateFileReferences('secret', [{ source: 'db-pass' }])).toEqual([{ source: 'db-pass', target: '/run/secrets/db-pass', uid: 0, gid: 0, mode: 0o444 }]);
    expect(validateFileReferences('config', [{ source: 'app.conf', target: '/etc/app.conf/', uid: 1000, gid: 5, mode: 0o440 }])).toEqual([
      { source: 'app.conf', target: '/etc/app.conf', uid: 1000, gid: 5, mode: 0o440 },
    ]);
  });

  it('refuses bad names, relative targets, modes beyond 0777 and a target used twice, with one line', () => {
    expect(() => validateFileReferences('secret', [{ source: '' }])).toThrow('a secret name is required');
    expect(() => validateFileReferences('secret', [{ source: 'a/b' }])).toThrow(/^invalid secret name "a\/b"/);
    expect(() => validateFileReferences('config', [{ source: 'c', target: 'etc/c' }])).toThrow('invalid config target "etc/c": must be an absolute path');
    expect(() => validateFileReferences('secret', [{ source: 's', mode: 0o1000 }])).toThrow('invalid secret s mode 512: permission bits are 0 to 0777');
    expect(() => validateServiceSpec({ name: 'web', container: { image: 'x', secrets: [{ source: 'a', target: '/f' }], configs: [{ source: 'b', target: '/f' }] } })).toThrow(
      'config target /f is used twice (by a secret, config or mount)',
    );
    expect(() => validateServiceSpec({ name: 'web', container: { image: 'x', mounts: [{ type: 'tmpfs', target: '/run/secrets/a' }], secrets: [{ source: 'a' }] } })).toThrow(
      'secret target /run/secrets/a is used twice',
    );
  });

  it('reads modes as octal permission bits, and nothing else', () => {
    expect(parseFileMode('0400')).toBe(0o400);
    expect(parseFileMode('440')).toBe(0o440);
    for (const bad of ['0999', '0x1ff', 'rw', '', '04000', '-1']) expect(() => parseFileMode(bad)).toThrow(/^invalid mode ".*": use octal permission bits such as 0400$/);
  });
});
