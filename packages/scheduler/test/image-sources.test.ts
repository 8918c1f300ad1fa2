import { describe, expect, it } from 'vitest';
import type { Node, Task } from '@pisched/api';
import { ImageSourceChooser, serviceImages } from '../src/dispatcher/image-sources';
import { readyNode, testClock } from './fixtures';

const ID1 = `sha256:${'1'.repeat(64)}`;
const ID2 = `sha256:${'2'.repeat(64)}`;

function holder(id: string, images: Array<[string, string]>, state: Node['state'] = 'READY', port = 4790): Node {
  return {
    ...readyNode(id, state),
    address: `10.0.0.${id.slice(-1)}`,
    imagePort: port,
    images: images.map(([reference, imageId]) => ({ reference, imageId, platform: { os: 'linux', architecture: 'arm64' }, sizeBytes: 100 })),
  };
}

const taskOf = (image: string): Task => ({ spec: { container: { image } }, desiredState: 'RUNNING' }) as unknown as Task;

describe('choosing where a node fetches an image from', () => {
  it('offers only ready nodes with an image server that hold the reference, never the receiver', () => {
    const chooser = new ImageSourceChooser(testClock().now);
    const nodes = [
      holder('n1', [['app:v1', ID1]]),
      holder('n2', [['app:v1', ID1]], 'DOWN'),
      holder('n3', [['app:v1', ID1]], 'READY', 0),
      holder('n4', [['other:v1', ID1]]),
      holder('n5', [['app:v1', ID1]]),
    ];
    expect(chooser.choose(nodes, 'n5', 'app:v1')).toEqual({ reference: 'app:v1', imageId: ID1, sources: [{ nodeId: 'n1', address: '10.0.0.1:4790' }] });
    expect(chooser.choose(nodes, 'n1', 'missing:v1')).toBeUndefined();
  });

  it('spreads load: the source offered least lately comes first, so a node that just received the image serves the next', () => {
    const clock = testClock();
    const chooser = new ImageSourceChooser(clock.now);
    const origin = holder('n1', [['app:v1', ID1]]);
    expect(chooser.choose([origin], 'n2', 'app:v1')!.sources!.map((s) => s.nodeId)).toEqual(['n1']);
    // n2 now holds it too: the next receiver is sent to n2 first, n1 stays as the fallback.
    const nodes = [origin, holder('n2', [['app:v1', ID1]])];
    expect(chooser.choose(nodes, 'n3', 'app:v1')!.sources!.map((s) => s.nodeId)).toEqual(['n2', 'n1']);
    expect(chooser.choose(nodes, 'n4', 'app:v1')!.sources!.map((s) => s.nodeId)).toEqual(['n1', 'n2']);
    // Offers are forgotten after a minute: the tie is broken by id again.
    clock.advance(61_000);
    expect(chooser.load('n1')).toBe(0);
    expect(chooser.choose(nodes, 'n5', 'app:v1')!.sources!.map((s) => s.nodeId)).toEqual(['n1', 'n2']);
  });

  it('takes the image id most holders agree on when a tag was built twice', () => {
    const chooser = new ImageSourceChooser(testClock().now);
    const nodes = [holder('n1', [['app:v1', ID2]]), holder('n2', [['app:v1', ID1]]), holder('n3', [['app:v1', ID1]])];
    const chosen = chooser.choose(nodes, 'n9', 'app:v1')!;
    expect(chosen.imageId).toBe(ID1);
    expect(chosen.sources!.map((s) => s.nodeId).sort()).toEqual(['n2', 'n3']);
  });

  it('lists sources for the tasks\' images the receiver does not hold, once per image', () => {
    const chooser = new ImageSourceChooser(testClock().now);
    const nodes = new Map([
      ['n1', holder('n1', [['app:v1', ID1], ['db:v1', ID2]])],
      ['n2', holder('n2', [['db:v1', ID2]])],
    ]);
    const fetches = chooser.forTasks(nodes, 'n2', [taskOf('app:v1'), taskOf('app:v1'), taskOf('db:v1'), taskOf('nobody:has')]);
    expect(fetches.map((f) => f.reference)).toEqual(['app:v1']);
  });

  it('watches the images services name, and those being pushed', () => {
    const services = [{ spec: { container: { image: 'b:1' } } }, { spec: { container: { image: 'a:1' } } }, { spec: { container: { image: 'a:1' } } }];
    expect(serviceImages(services, ['c:1'])).toEqual(['a:1', 'b:1', 'c:1']);
  });
});
