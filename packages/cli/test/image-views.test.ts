import { describe, expect, it } from 'vitest';
import type { Node } from '@pisched/api';
import { imageRows, progressLine, renderImages } from '../src/commands/image';

const ID = `sha256:3f2a9c1d0b7e${'0'.repeat(52)}`;

function nodeWith(id: string, images: Array<{ reference: string; imageId: string }>): Node {
  return {
    id,
    images: images.map((image) => ({ ...image, platform: { os: 'linux', architecture: 'arm64' }, sizeBytes: 41_562_624 })),
  } as unknown as Node;
}

describe('image ls and image push views', () => {
  it('lists one row per node and image for --json, sorted by image then node', () => {
    const rows = imageRows([nodeWith('pi-2', [{ reference: 'myapp:latest', imageId: ID }]), nodeWith('pi-1', [{ reference: 'myapp:latest', imageId: ID }]), nodeWith('pi-3', [])]);
    expect(rows).toEqual([
      { reference: 'myapp:latest', imageId: ID, platform: 'linux/arm64', sizeBytes: 41_562_624, node: 'pi-1' },
      { reference: 'myapp:latest', imageId: ID, platform: 'linux/arm64', sizeBytes: 41_562_624, node: 'pi-2' },
    ]);
  });

  it('groups the nodes holding the same image id on one table line', () => {
    const rows = imageRows([nodeWith('pi-1', [{ reference: 'myapp:latest', imageId: ID }]), nodeWith('pi-2', [{ reference: 'myapp:latest', imageId: ID }])]);
    expect(renderImages(rows)).toBe(
      'IMAGE          ID             PLATFORM      SIZE     NODES\n' +
      'myapp:latest   3f2a9c1d0b7e   linux/arm64   41.6MB   pi-1,pi-2\n',
    );
  });

  it('prints a push progress line per node event', () => {
    expect(progressLine({ requestId: 'r1', nodeId: 'pi-2', state: 'fetching', message: 'from pi-1', bytes: 0 })).toBe('pi-2: fetching from pi-1');
    expect(progressLine({ requestId: 'r1', nodeId: 'pi-2', state: 'present', message: '', bytes: 0 })).toBe('pi-2: present');
  });
});
