import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorsOf, brokenLinks, headingAnchor } from './markdown-links';

const ROOT = path.join(__dirname, '..');

/** README, the benchmark diaries beside it and the packages' own READMEs: the Markdown a reader follows links through. */
function documentation(): string[] {
  const docs = fs.readdirSync(path.join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => path.join(ROOT, 'docs', name));
  const packages = fs.readdirSync(path.join(ROOT, 'packages'))
    .map((name) => path.join(ROOT, 'packages', name, 'README.md'))
    .filter((file) => fs.existsSync(file));
  return [path.join(ROOT, 'README.md'), ...docs, ...packages];
}

describe('Markdown links', () => {
  it('make the anchors GitHub makes', () => {
    expect(headingAnchor('The kernel forwarder (`--mesh-forwarder kernel`)')).toBe('the-kernel-forwarder---mesh-forwarder-kernel');
    expect(headingAnchor("Docker's Swarm API")).toBe('dockers-swarm-api');
    expect(headingAnchor("Issue #17's goals: where they stand")).toBe('issue-17s-goals-where-they-stand');
    expect([...anchorsOf('# A\n```sh\n# not a heading\n```\n## A\n')]).toEqual(['a', 'a-1']);
  });

  it('report a missing file and a missing heading', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'markdown-links-'));
    try {
      fs.writeFileSync(path.join(dir, 'other.md'), '# Here\n');
      const file = path.join(dir, 'doc.md');
      fs.writeFileSync(file, '# Top\n[a](#top) [b](other.md#here) [c](https://example.com/#x)\n[d](#gone) [e](missing.md) [f](other.md#gone)\n');
      expect(brokenLinks(file).map((line) => line.slice(dir.length + 1))).toEqual([
        'doc.md:3: no heading for #gone',
        'doc.md:3: no file missing.md',
        'doc.md:3: no heading for other.md#gone',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in README, the benchmark diaries and the packages\' READMEs all lead somewhere', () => {
    const files = documentation();
    expect(files).toContain(path.join(ROOT, 'docs', 'benchmarks', 'scale.md'));
    const anchorsByFile = new Map<string, Set<string>>();
    expect(files.flatMap((file) => brokenLinks(file, anchorsByFile))).toEqual([]);
  });
});
