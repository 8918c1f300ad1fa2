import type Docker from 'dockerode';
import { onLines } from '../../packages/agent/src/stream-lines';

export interface StartTimes {
  /** ms from `since` to the first and to the `count`th container start the engine reported. */
  first: number;
  all: number;
}

/**
 * Counts the engine's own "start" events of containers carrying `label`, so a
 * run is timed by the engine's clock of events rather than by how often the
 * benchmark polls (polling 20 containers every few ms would load the very
 * engine being measured). Call `done` with the moment the command was sent.
 */
export async function watchStarts(docker: Docker, label: string, count: number, limitMs = 120_000): Promise<{ done: (since: number) => Promise<StartTimes>; close: () => void }> {
  const stream = (await docker.getEvents({ filters: { type: ['container'], event: ['start'], label: [label] } })) as NodeJS.ReadableStream & { destroy?: () => void };
  const seen: number[] = [];
  let wake: (() => void) | undefined;
  onLines(stream, (line) => {
    // timeNano is the engine's moment of the start, not when this process read it.
    const event = JSON.parse(line) as { timeNano?: number };
    seen.push(event.timeNano ? event.timeNano / 1e6 : Date.now());
    wake?.();
  });
  stream.on('error', () => wake?.());
  const close = () => {
    stream.removeAllListeners();
    stream.on('error', () => undefined);
    stream.destroy?.();
  };
  const done = async (since: number): Promise<StartTimes> => {
    const deadline = Date.now() + limitMs;
    while (seen.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${seen.length} of ${count} containers started within ${limitMs / 1000} s`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000);
      });
    }
    const sorted = [...seen].sort((a, b) => a - b);
    return { first: sorted[0]! - since, all: sorted[count - 1]! - since };
  };
  return { done, close };
}
