import type * as protobuf from 'protobufjs';
import { Writer } from 'protobufjs/minimal';
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
  const head = Writer.create().uint32(messageField(messageType(name), field).tag).uint32(length).finish();
  return Buffer.concat([head, ...parts], head.length + length);
}

/**
 * An encoder of values as field `field` of message `name` (one entry, for a
 * repeated field): joined with other such bytes, they decode as one message
 * holding them all. `given` names one of the value's own message fields that
 * the caller passes already encoded (e.g. a spec many values share, encoded
 * once): a value must leave that field out. The fields are looked up here,
 * once, not at every value. `encode` writes a value as the field's type
 * (the reflection's fromObject and encode unless given: the scheduler gives
 * its one-pass encoders, which only it loads).
 */
export function fieldEncoder(name: string, field: string, given?: string, encode?: (value: object, writer: Writer) => unknown): (value: object, givenBytes?: Uint8Array) => Uint8Array {
  const { tag, type } = messageField(messageType(name), field);
  const givenTag = given === undefined ? undefined : messageField(type, given).tag;
  const write = encode ?? ((value: object, writer: Writer) => type.encode(type.fromObject(value), writer));
  return (value, givenBytes) => {
    const writer = Writer.create().uint32(tag).fork();
    write(value, writer);
    if (givenBytes) {
      if (givenTag === undefined) throw new Error(`no field of ${type.name} was named to be given encoded`);
      writer.uint32(givenTag).bytes(givenBytes);
    }
    return writer.ldelim().finish();
  };
}

interface MessageField {
  tag: number;
  type: protobuf.Type;
}

const fields = new WeakMap<protobuf.Type, Map<string, MessageField>>();

/** A message-typed field of message type `owner`: its tag and its type. */
function messageField(owner: protobuf.Type, field: string): MessageField {
  let known = fields.get(owner);
  if (!known) fields.set(owner, (known = new Map()));
  let found = known.get(field);
  if (!found) {
    const reflected = owner.fields[field];
    if (!reflected) throw new Error(`message ${owner.name} has no field ${field}`);
    const type = reflected.resolve().resolvedType;
    // protobufjs's reflection is loaded already (owner is part of it); its module is not loaded with this one, see proto.ts.
    const { Type } = require('protobufjs') as typeof import('protobufjs');
    // Only a message field: a packed scalar or a map entry is not its value's encoding with a tag.
    if (reflected.map || !(type instanceof Type)) throw new Error(`field ${field} of ${owner.name} is not a message`);
    found = { tag: (reflected.id << 3) | LENGTH_DELIMITED, type };
    known.set(field, found);
  }
  return found;
}
