import { encodeMessage } from './proto';
import { EncodedMessage } from './encoded-message';

export { EncodedMessage };

/** Objects encoded between two looks at the clock. */
const BATCH = 16;
/** Encoding time per event-loop turn: well under the Raft heartbeat interval (50 ms by default). */
const SLICE_MS = 5;

/**
 * Encodes `objects` as messages `name` holding a few of them each in repeated field `field`,
 * yielding to the event loop every few milliseconds. Protobuf appends the repeated fields of
 * concatenated messages, so the parts joined decode as one message holding them all.
 * Rejects soon after `signal` aborts.
 */
export async function encodeRepeatedInSlices(name: string, field: string, objects: readonly object[], signal?: AbortSignal, sliceStart = { at: performance.now() }): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < objects.length; at += BATCH) {
    parts.push(encodeMessage(name, { [field]: objects.slice(at, at + BATCH) }));
    if (performance.now() - sliceStart.at >= SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      signal?.throwIfAborted();
      sliceStart.at = performance.now();
    }
  }
  return parts;
}

/** `value` as message `name`, its repeated field `field` encoded in slices (see encodeRepeatedInSlices): ready for a gRPC answer. */
export async function encodeAnswerInSlices<T extends object>(name: string, field: keyof T & string, value: T): Promise<EncodedMessage> {
  const { [field]: objects, ...rest } = value as Record<string, unknown>;
  const parts = [encodeMessage(name, rest), ...(await encodeRepeatedInSlices(name, field, objects as object[]))];
  return new EncodedMessage(Buffer.concat(parts), value);
}
