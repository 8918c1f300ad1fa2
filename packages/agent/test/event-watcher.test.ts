import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { EventWatcher, type ContainerEvent } from '../src/event-watcher';

/** An engine whose event streams the test feeds and cuts by hand. */
class FakeEvents {
  streams: PassThrough[] = [];
  options: unknown[] = [];
  down = false;

  get docker(): Docker {
    return this as unknown as Docker;
  }

  async getEvents(options: unknown): Promise<NodeJS.ReadableStream> {
    this.options.push(options);
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const stream = new PassThrough();
    this.streams.push(stream);
    return stream;
  }
}

async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const event = (action: string, node: string, task?: string) =>
  JSON.stringify({ Type: 'container', Action: action, Actor: { ID: 'cid', Attributes: { 'pisched.node': node, ...(task ? { 'pisched.task': task } : {}) } } });

let watcher: EventWatcher | undefined;
afterEach(() => watcher?.stop());

describe('EventWatcher', () => {
  it('asks the engine for this node\'s container events and parses lines split across chunks', async () => {
    const engine = new FakeEvents();
    const events: ContainerEvent[] = [];
    let connected = 0;
    watcher = new EventWatcher(engine.docker, 'node-a', { onEvent: (e) => events.push(e), onConnected: () => connected++ }, pino({ level: 'silent' }));
    watcher.start();
    await waitFor(() => connected === 1);
    expect(engine.options[0]).toEqual({
      filters: { type: ['container'], label: ['pisched.node=node-a'], event: ['die', 'destroy', 'start', 'oom', 'health_status'] },
    });
    const text = `${event('die', 'node-a', 't1')}\n${event('destroy', 'node-b', 't2')}\n${event('start', 'node-a')}\n`;
    engine.streams[0].write(text.slice(0, 40));
    engine.streams[0].write(text.slice(40));
    await waitFor(() => events.length === 2);
    expect(events).toEqual([
      { action: 'die', containerId: 'cid', taskId: 't1' },
      { action: 'start', containerId: 'cid', taskId: '' },
    ]);
  });

  it('re-opens the stream with backoff when it ends or the engine is down, and reports each reconnection', async () => {
    const engine = new FakeEvents();
    let connected = 0;
    watcher = new EventWatcher(engine.docker, 'node-a', { onEvent: () => undefined, onConnected: () => connected++ }, pino({ level: 'silent' }));
    watcher.start();
    await waitFor(() => connected === 1);
    engine.down = true;
    engine.streams[0].end();
    await waitFor(() => engine.options.length >= 3); // refused at least once
    engine.down = false;
    await waitFor(() => connected === 2, 5000);
    engine.streams[1].destroy(new Error('socket hang up'));
    await waitFor(() => connected === 3, 5000);
  });
});
