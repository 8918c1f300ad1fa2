import * as fs from 'node:fs';
import * as path from 'node:path';

/** The anchor GitHub gives a heading: lower case, punctuation dropped, each space a hyphen. */
export function headingAnchor(heading: string): string {
  const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
  return text.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
}

/** Lines outside fenced code blocks, with their 1-based numbers: a `#` comment in a shell block is no heading. */
function proseLines(text: string): [number, string][] {
  const lines: [number, string][] = [];
  let fenced = false;
  text.split('\n').forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push([i + 1, line]);
  });
  return lines;
}

/** Every anchor a Markdown text's headings make; a repeated heading gets -1, -2 … as on GitHub. */
export function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, line] of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const anchor = headingAnchor(heading[1]);
    const count = seen.get(anchor) ?? 0;
    seen.set(anchor, count + 1);
    anchors.add(count === 0 ? anchor : `${anchor}-${count}`);
  }
  return anchors;
}

/** The links of a Markdown file that point into the repository at a file or heading that is not there. */
export function brokenLinks(file: string, anchorsByFile = new Map<string, Set<string>>()): string[] {
  const anchorsIn = (linked: string): Set<string> => {
    let anchors = anchorsByFile.get(linked);
    if (!anchors) anchorsByFile.set(linked, (anchors = anchorsOf(fs.readFileSync(linked, 'utf8'))));
    return anchors;
  };
  const broken: string[] = [];
  for (const [number, line] of proseLines(fs.readFileSync(file, 'utf8'))) {
    for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      const [filePart, anchor] = target.split('#', 2);
      const linked = filePart ? path.resolve(path.dirname(file), filePart) : file;
      if (!fs.existsSync(linked)) broken.push(`${file}:${number}: no file ${target}`);
      else if (anchor !== undefined && linked.endsWith('.md') && !anchorsIn(linked).has(anchor)) {
        broken.push(`${file}:${number}: no heading for ${target}`);
      }
    }
  }
  return broken;
}
