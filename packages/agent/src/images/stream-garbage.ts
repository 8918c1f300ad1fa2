import * as v8 from 'node:v8';

/**
 * Every chunk an image transfer moves is a Buffer of its own (64 KiB from a
 * unix socket, 16 KiB out of TLS) whose memory lives outside the V8 heap,
 * held by a JS object of about 100 bytes. A transfer therefore fills the
 * young generation slowly while its dead buffers pile up: V8 scavenges when
 * the young generation is full, or does a full collection once external
 * memory has grown by 64 MB, so the agent's RSS grew by 30-45 MiB during a
 * transfer (measured: 20-35 MiB of them dead buffers, almost none live). A
 * scavenge after every few MiB streamed frees those buffers while they are
 * still young, for a millisecond or two each (measured: about 50 scavenges
 * and 0.1-0.3 s of one core per 100 MB moved, on a loaded VM; 2-3 MiB of dead buffers at
 * any time instead of up to 35).
 */
const COLLECT_EVERY_BYTES = 2 * 1024 * 1024;

type MinorGc = () => void;

let collect: MinorGc | undefined;
let sinceLast = 0;

/**
 * V8's own gc(), taken from a fresh context so that `gc` never shows up on this process's global object.
 * node:vm is loaded on the first transfer only: an agent that moves no image never needs it.
 */
function minorGc(): MinorGc {
  if (!collect) {
    const vm = require('node:vm') as typeof import('node:vm');
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as (options: { type: 'minor' }) => void;
    v8.setFlagsFromString('--no-expose-gc');
    collect = () => gc({ type: 'minor' });
  }
  return collect;
}

/** Counts bytes a transfer moved (all transfers of this process together) and scavenges after every few MiB. */
export function streamedBytes(bytes: number): void {
  sinceLast += bytes;
  if (sinceLast < COLLECT_EVERY_BYTES) return;
  sinceLast = 0;
  minorGc()();
}

/**
 * A transfer is about to start: scavenge now, while the young generation
 * holds none of its buffers. Start-up leaves the agent's young generation
 * large (about 12 MB), and its first scavenge raised the agent's RSS by up to
 * 9 MiB for a moment when it came a few MiB into a stream, with that much
 * dead buffer memory on top (peaks of 83-85 MiB against 73-74 with this).
 */
export function transferStarts(): void {
  sinceLast = 0;
  minorGc()();
}
