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
  const head = protobuf.Writer.create().uint32(messageField(messageType(name), field).tag).uint32(length).finish();
  return Buffer.concat([head, ...parts], head.length + length);
}

/**
 * `value` encoded as field `field` of message `name` (one entry, for a
 * repeated field): joined with other such bytes, they decode as one message
 * holding them all. `given` is one of the value's own message fields,
 * already encoded (e.g. a spec many values share, encoded once): `value`
 * must leave that field out.
 */
export function encodeAsField(name: string, field: string, value: object, given?: { field: string; bytes: Uint8Array }): Uint8Array {
  const { tag, type } = messageField(messageType(name), field);
  const writer = protobuf.Writer.create().uint32(tag).fork();
  type.encode(type.fromObject(value), writer);
  if (given) writer.uint32(messageField(type, given.field).tag).bytes(given.bytes);
  return writer.ldelim().finish();
}

interface MessageField {
  tag: number;
  type: protobuf.Type;
}

const fields = new Map<string, MessageField>();

/** A message-typed field of message type `owner`: its tag and its type. */
function messageField(owner: protobuf.Type, field: string): MessageField {
  const key = `${owner.fullName}.${field}`;
  let found = fields.get(key);
  if (!found) {
    const reflected = owner.fields[field];
    if (!reflected) throw new Error(`message ${owner.name} has no field ${field}`);
    const type = reflected.resolve().resolvedType;
    // Only a message field: a packed scalar or a map entry is not its value's encoding with a tag.
    if (reflected.map || !(type instanceof protobuf.Type)) throw new Error(`field ${field} of ${owner.name} is not a message`);
    found = { tag: (reflected.id << 3) | LENGTH_DELIMITED, type };
    fields.set(key, found);
  }
  return found;
}
