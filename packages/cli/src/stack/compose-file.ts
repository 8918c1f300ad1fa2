import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Document, type Node } from 'yaml';
import { ComposeError, describePath } from './compose-error';
import { InterpolationError, interpolate, type Lookup } from './interpolate';

export type ModelPath = readonly (string | number)[];

/** One Compose file, parsed and interpolated, with what is needed to point at its lines. */
export interface ComposeFile {
  path: string;
  dir: string;
  model: Record<string, unknown>;
  /** The 1-based line where a key or value sits, or the nearest enclosing one found. */
  lineOf(path: ModelPath): number | undefined;
}

export function readComposeFile(path: string, lookup: Lookup): ComposeFile {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new ComposeError(`cannot read compose file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseComposeText(text, path, dirname(absolute), lookup);
}

export function parseComposeText(text: string, name: string, dir: string, lookup: Lookup): ComposeFile {
  const lines = new LineCounter();
  // Merge keys (`<<: *defaults`) are common in Compose files that share settings through x- extensions.
  const doc = parseDocument(text, { lineCounter: lines, merge: true, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number | undefined) => (offset === undefined ? undefined : lines.linePos(offset).line);
  const problem = doc.errors[0];
  if (problem) throw new ComposeError(`${name}:${lineAt(problem.pos[0]) ?? '?'}: invalid YAML: ${problem.message.split('\n')[0]}`);
  readModesAsOctal(doc);
  interpolateDocument(doc, (path, offset, message) => new ComposeError(`${name}:${lineAt(offset) ?? '?'}: ${describePath(path)}: ${message}`), lookup);
  const model = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  if (model === null || model === undefined) throw new ComposeError(`${name}: the file is empty`);
  if (typeof model !== 'object' || Array.isArray(model)) throw new ComposeError(`${name}:1: a Compose file must be a mapping (services: …)`);
  return { path: name, dir, model: model as Record<string, unknown>, lineOf: (path) => lineAt(offsetOf(doc, path)) };
}

/**
 * The yaml package reads YAML 1.2, where a plain `mode: 0400` is decimal 400;
 * Compose reads files with Go's YAML 1.1 rules, where it is octal (256). Modes
 * are permission bits, so a plain leading-zero number under a `mode` key is
 * read as octal here, as Compose does. Quoted modes stay strings and are read
 * as octal where they are converted.
 */
function readModesAsOctal(doc: Document): void {
  visit(doc, {
    Pair(_key, pair) {
      const value = pair.value;
      if (!isScalar(pair.key) || pair.key.value !== 'mode' || !isScalar(value) || value.type !== 'PLAIN' || typeof value.value !== 'number') return;
      const source = (value as { source?: string }).source ?? '';
      if (/^0[0-7]+$/.test(source)) value.value = parseInt(source, 8);
    },
  });
}

/** Values only, never keys, as Compose substitutes. */
function interpolateDocument(doc: Document, fail: (path: ModelPath, offset: number | undefined, message: string) => Error, lookup: Lookup): void {
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      try {
        node.value = interpolate(node.value, lookup);
      } catch (error) {
        if (!(error instanceof InterpolationError)) throw error;
        throw fail(pathOf([...ancestors, node]), node.range?.[0], error.message);
      }
    },
  });
}

function pathOf(chain: readonly unknown[]): (string | number)[] {
  const path: (string | number)[] = [];
  chain.forEach((item, i) => {
    if (isPair(item)) path.push(String(isScalar(item.key) ? item.key.value : item.key));
    else if (isSeq(item)) path.push(item.items.indexOf(chain[i + 1] as Node));
  });
  return path;
}

function offsetOf(doc: Document, path: ModelPath): number | undefined {
  let node: unknown = doc.contents;
  let offset = (node as Node | null)?.range?.[0];
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(part));
      if (!pair) return offset;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof part === 'number') {
      node = node.items[part];
      offset = (node as Node | undefined)?.range?.[0] ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}
