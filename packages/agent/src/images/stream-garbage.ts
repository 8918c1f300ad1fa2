import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/**
 * Every chunk an image transfer moves is a Buffer of its own (64 KiB from a
 * unix socket, 16 KiB out of TLS) whose memory lives outside the V8 heap,
 * held by a JS object of about 100 bytes. A transfer therefore fills the
 * young generation slowly while its dead buffers pile up: V8 scavenges when
 * the young generation is full, or does a full collection once external
 * memory has grown by 64 MB, and by then a Pi's agent has doubled its RSS
 * (measured: 30-35 MiB of dead buffers at the peak of two transfers). A
 * scavenge after every few MiB streamed frees those buffers while they are
 * still young, for about a millisecond each.
 */
const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;

type MinorGc = () => void;

let collect: MinorGc | undefined;
let sinceLast = 0;

/** V8's own gc(), taken from a fresh context so that `gc` never shows up on this process's global object. */
function minorGc(): MinorGc {
  if (!collect) {
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
