import { describe, expect, it } from 'vitest';
import { parseFileReference, updatedFileReferences } from '../src/file-reference-flags';

describe('--secret and --config', () => {
  it('reads NAME alone, or source=, target=, uid=, gid= and mode= as Docker does', () => {
    expect(parseFileReference('secret', 'db-pass')).toEqual({ source: 'db-pass', target: '', uid: 0, gid: 0, mode: 0 });
    expect(parseFileReference('secret', 'db-pass,target=/etc/pass,uid=1000,gid=50,mode=0400')).toEqual({ source: 'db-pass', target: '/etc/pass', uid: 1000, gid: 50, mode: 0o400 });
    expect(parseFileReference('config', 'source=app,target=/app.conf')).toMatchObject({ source: 'app', target: '/app.conf' });
  });

  it('refuses a malformed mode, an unknown key, a missing name or a bad uid with one line', () => {
    expect(() => parseFileReference('secret', 'db,mode=0999')).toThrow('invalid --secret "db,mode=0999": invalid mode "0999": use octal permission bits such as 0400');
    expect(() => parseFileReference('secret', 'db,mode=0')).toThrow('invalid --secret "db,mode=0": mode 0 lets nobody read the file');
    expect(() => parseFileReference('config', 'c,owner=1')).toThrow('invalid --config "c,owner=1": unknown key "owner" (use source, target, uid, gid or mode)');
    expect(() => parseFileReference('secret', 'target=/x')).toThrow('invalid --secret "target=/x": the secret\'s name is required');
    expect(() => parseFileReference('secret', 'db,uid=-1')).toThrow('invalid --secret "db,uid=-1": uid "-1" is not a number');
    expect(() => parseFileReference('secret', 'db,x')).toThrow('"x" needs a key');
  });

  it('update: -rm drops by name, -add appends or replaces the one of the same name; an unknown -rm is refused', () => {
    const current = [parseFileReference('secret', 'a'), parseFileReference('secret', 'b,mode=0400')];
    expect(updatedFileReferences('secret', current, ['b,mode=0440', 'c'], ['a']).map((r) => [r.source, r.mode])).toEqual([['b', 0o440], ['c', 0]]);
    expect(() => updatedFileReferences('secret', current, [], ['zz'])).toThrow('--secret-rm zz: the service has no secret of that name');
  });
});
