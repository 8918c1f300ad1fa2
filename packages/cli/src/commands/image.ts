import { formatPlatform, type ImageFetchProgress, type Node } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { printJson } from '../json-views';
import { renderTable } from '../table';

/** What `image ls --json` shows: one row per image a node holds. */
export interface ImageRow {
  reference: string;
  imageId: string;
  platform: string;
  sizeBytes: number;
  node: string;
}

export function imageRows(nodes: Node[]): ImageRow[] {
  return nodes
    .flatMap((node) =>
      (node.images ?? []).map((image) => ({
        reference: image.reference,
        imageId: image.imageId,
        platform: image.platform ? formatPlatform(image.platform) : '',
        sizeBytes: Number(image.sizeBytes),
        node: node.id,
      })),
    )
    .sort((a, b) => a.reference.localeCompare(b.reference) || a.imageId.localeCompare(b.imageId) || a.node.localeCompare(b.node));
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)}MB`;
}

/** One line per image id: the nodes holding it together, as the question is "where is it". */
export function renderImages(rows: ImageRow[]): string {
  const grouped = new Map<string, ImageRow[]>();
  for (const row of rows) {
    const key = `${row.reference}\n${row.imageId}`;
    grouped.set(key, [...(grouped.get(key) ?? []), row]);
  }
  return renderTable(
    ['IMAGE', 'ID', 'PLATFORM', 'SIZE', 'NODES'],
    [...grouped.values()].map((group) => [group[0].reference, group[0].imageId.replace(/^sha256:/, '').slice(0, 12), group[0].platform, megabytes(group[0].sizeBytes), group.map((row) => row.node).join(',')]),
  );
}

export function progressLine(progress: ImageFetchProgress): string {
  return `${progress.nodeId}: ${progress.state}${progress.message ? ` ${progress.message}` : ''}`;
}

/** `pisched image ls|push`: images services use, moved node to node without a registry. */
export function registerImage(program: Command, context: Context): void {
  const group = program.command('image').description('images services use: which nodes hold them, and copying them node to node (no registry needed)');
  group
    .command('ls')
    .description('which nodes hold which service images (id, platform, size)')
    .option('--json', 'print a JSON array (one entry per node and image) instead of a table')
    .action(async (options: { json?: boolean }) => {
      const rows = imageRows(await context.client().listNodes());
      if (options.json) printJson(rows, (text) => context.write(text));
      else context.write(renderImages(rows));
    });
  group
    .command('push')
    .description('copy an image from the nodes holding it to every node that could run it (or those named), node to node')
    .argument('<image>', 'image reference a node holds, e.g. myapp:latest')
    .option('--nodes <a,b,...>', 'only these nodes')
    .action(async (image: string, options: { nodes?: string }) => {
      const nodes = (options.nodes ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '');
      if (options.nodes !== undefined && nodes.length === 0) throw new CliError('--nodes needs at least one node id');
      let failed = 0;
      const { done } = context.client().pushImage(image, nodes, (progress) => {
        if (progress.state === 'failed') failed++;
        context.write(`${progressLine(progress)}\n`);
      });
      await done;
      if (failed > 0) throw new CliError(`${image} did not reach ${failed} node${failed === 1 ? '' : 's'}`);
    });
}
