import * as protobuf from 'protobufjs';
import { messageType } from './proto';

/** Wire type of a length-delimited field (a message, bytes, a string). */
const LENGTH_DELIMITED = 2;

/**
 * The bytes of message `name` holding only field `field` (a message), whose
 * own encoding is given as `parts` joined. Protobuf appends what concatenated
 * messages hold, so such bytes joined with others decode as one message: a
 * caller encodes what does not change once (a task, its spec) and joins the
 * bytes, instead of protobufjs converting and encoding all of it again.
 */
export function embedEncoded(name: string, field: string, parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  const head = protobuf.Writer.create().uint32(fieldTag(name, field)).uint32(length).finish();
  return Buffer.concat([head, ...parts], head.length + length);
}

const tags = new Map<string, number>();

function fieldTag(name: string, field: string): number {
  const key = `${name}.${field}`;
  let tag = tags.get(key);
  if (tag === undefined) {
    const type = messageType(name);
    const reflected = type.fields[field];
    if (!reflected) throw new Error(`message ${name} has no field ${field}`);
    // Only a singular or repeated message field: a packed scalar or a map entry is not its own encoding joined.
    if (reflected.map || !(reflected.resolve().resolvedType instanceof protobuf.Type)) throw new Error(`field ${field} of ${name} is not a message`);
    tag = (reflected.id << 3) | LENGTH_DELIMITED;
    tags.set(key, tag);
  }
  return tag;
}
