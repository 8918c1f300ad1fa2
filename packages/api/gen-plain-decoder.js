// The source of a decoder that reads a message's bytes straight into the
// plain object protobufjs's decode and then toObject with CONVERSION
// (grpc-method.ts: longs as numbers, enums as names, every default, oneofs
// named) make of them, in one pass. Two passes made a protobufjs message
// (a Long per 64-bit value) and then a copy with every default filled, for
// every task of every assignment push an agent takes: in a 10k-task burst
// the simulated agents' process spent 9 % of its time there (issue #17).
// The wire is read as protobufjs's own decoder reads it (the same Reader
// calls, checks and errors); each value is made what its toObject makes of
// it. packages/api/test/agent-services.test.ts holds the two equal.
const protobuf = require('protobufjs');

/**
 * Fields whose bytes repeat from message to message, decoded once per value
 * and shared (frozen): a task's spec is its service's, the same bytes for
 * each of its replicas (the dispatcher embeds them as stored). Filling a
 * spec's defaults (ContainerSpec, UpdateConfig, Placement…) was most of an
 * agent's decoding; a node's tasks of one service, or a process of simulated
 * nodes, now decode each spec once and compare it by identity (sameSpec).
 */
const SHARED = new Set(['pisched.v1.Task.spec']);

/**
 * The helper the shared fields' decoders call (written once into gen/codecs.ts):
 * the value last decoded from the very same bytes, else a new one, frozen
 * whole. The bytes of the last SHARED_KEPT are kept, each value only weakly:
 * a spec no task holds any more (an old one after an update) is not kept alive
 * in a Pi's agent.
 */
const SHARED_SOURCE = `const SHARED_KEPT = 256;
const sharedValues = new Map();
function frozen(value) {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value;
  for (const key of Object.keys(value)) frozen(value[key]);
  return Object.freeze(value);
}
function shared(type, r, l, n) {
  if (r.pos + l > r.len) throw RangeError("index out of range");
  const key = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, l).toString('latin1');
  let value = sharedValues.get(key)?.deref();
  if (value === undefined) {
    value = frozen(type.decode(r, l, n));
    sharedValues.delete(key);
    sharedValues.set(key, new WeakRef(value));
    if (sharedValues.size > SHARED_KEPT) sharedValues.delete(sharedValues.keys().next().value);
  } else {
    r.pos += l;
  }
  return value;
}
`;

/** `T["name"]`: the entry of another message or enum in gen/codecs.ts. */
const entryOf = (type) => `T[${JSON.stringify(type.fullName.slice(1))}]`;

/** What toObject makes of the value just read into `v` (an expression). */
function converted(field) {
  if (field.resolvedType instanceof protobuf.Enum) return `(${entryOf(field.resolvedType)}.values[v]===undefined?v:${entryOf(field.resolvedType)}.values[v])`;
  if (field.long) return `(typeof v==="number"?v:new util.LongBits(v.low>>>0,v.high>>>0).toNumber(${field.type === 'uint64' || field.type === 'fixed64'}))`;
  return 'v';
}

/** The statement reading one value of `field` (not a map) into `v`. */
function read(field, shared) {
  if (field.resolvedType instanceof protobuf.Type && shared.has(field.fullName.slice(1))) return `v=shared(${entryOf(field.resolvedType)},r,r.uint32(),n+1)`;
  if (field.resolvedType instanceof protobuf.Type) return `v=${entryOf(field.resolvedType)}.decode(r,r.uint32(),n+1)`;
  return `v=r.${field.resolvedType instanceof protobuf.Enum ? 'int32' : field.type}()`;
}

/** The default toObject gives a field absent from the bytes (a oneof member has none). */
function defaultOf(field) {
  if (field.repeated) return '[]';
  if (field.map) return '{}';
  if (field.resolvedType instanceof protobuf.Enum) return JSON.stringify(field.resolvedType.valuesById[field.typeDefault]);
  if (field.resolvedType) return 'null';
  if (field.long) return String(field.typeDefault.toNumber());
  if (field.bytes) return 'util.newBuffer([])';
  return JSON.stringify(field.typeDefault);
}

function mapCase(field, prop, shared) {
  // protobufjs keys those by a hash of the Long; proto/ has none, so none is written.
  if (protobuf.types.long[field.keyType] !== undefined) throw new Error(`${field.fullName}: a map with 64-bit keys has no plain decoder (gen-plain-decoder.js)`);
  return [
    'var c2=r.uint32()+r.pos',
    'if(c2>r.len)throw RangeError("index out of range")',
    'r.len=c2',
    `var k=${JSON.stringify(protobuf.types.defaults[field.keyType])}`,
    `v=${field.resolvedType ? (field.resolvedType instanceof protobuf.Enum ? '0' : 'null') : JSON.stringify(protobuf.types.defaults[field.type])}`,
    'while(r.pos<c2){',
    'var t2=r.uint32()',
    'switch(t2>>>3){',
    `case 1:k=r.${field.keyType}();break`,
    `case 2:${read(field, shared)};break`,
    'default:r.skipType(t2&7,n)',
    '}',
    '}',
    'if(r.pos!==c2)throw RangeError("index out of range")',
    'r.len=c',
    `if(k==="__proto__")util.makeProp(d${prop},k)`,
    `d${prop}[k]=${converted(field)}`,
  ];
}

function repeatedCase(field, prop, shared) {
  const lines = [];
  const type = field.resolvedType instanceof protobuf.Enum ? 'int32' : field.type;
  if (!field.resolvedType || field.resolvedType instanceof protobuf.Enum) {
    if (protobuf.types.packed[type] !== undefined) {
      lines.push(
        'if((t&7)===2){',
        'var c2=r.uint32()+r.pos',
        'if(c2>r.len)throw RangeError("index out of range")',
        'r.len=c2',
        `while(r.pos<c2){${read(field, shared)};d${prop}.push(${converted(field)})}`,
        'if(r.pos!==c2)throw RangeError("index out of range")',
        'r.len=c',
        '}else{',
      );
      lines.push(`${read(field, shared)};d${prop}.push(${converted(field)})`, '}');
      return lines;
    }
  }
  return [`${read(field, shared)};d${prop}.push(${converted(field)})`];
}

/**
 * The source of `name$decode(r, l, n)`: bytes or a Reader, the length to read (undefined: all), the nesting depth.
 * `shared`: the fields decoded once per value (SHARED, the agent's); none for a decoder whose values are changed in place.
 */
function plainDecoder(type, shared = SHARED) {
  const fields = type.fieldsArray.slice().sort((a, b) => a.id - b.id);
  fields.forEach((field) => field.resolve());
  // toObject's key order: the repeated fields, the maps, then the others; a oneof member only when present.
  const plain = fields.filter((field) => !field.partOf);
  const ordered = [...plain.filter((f) => f.repeated), ...plain.filter((f) => f.map), ...plain.filter((f) => !f.repeated && !f.map)];
  const literal = ordered.map((field) => `${JSON.stringify(field.name)}:${defaultOf(field)}`).join(',');
  const lines = [
    `function ${type.name}$decode(r,l,n){`,
    'if(!(r instanceof Reader))r=Reader.create(r)',
    'if(n===undefined)n=0',
    'if(n>Reader.recursionLimit)throw Error("maximum nesting depth exceeded")',
    `var c,v,d={${literal}}`,
    'if(l===undefined)c=r.len',
    'else{',
    'c=r.pos+l',
    'if(c>r.len)throw RangeError("index out of range")',
    'l=r.len',
    'r.len=c',
    '}',
    'while(r.pos<c){',
    'var t=r.uint32()',
    'switch(t>>>3){',
  ];
  for (const field of fields) {
    const prop = `[${JSON.stringify(field.name)}]`;
    lines.push(`case ${field.id}:{`);
    if (field.map) lines.push(...mapCase(field, prop, shared));
    else if (field.repeated) lines.push(...repeatedCase(field, prop, shared));
    else {
      lines.push(read(field, shared), `d${prop}=${converted(field)}`);
      if (field.partOf) lines.push(`d[${JSON.stringify(field.partOf.name)}]=${JSON.stringify(field.name)}`);
    }
    lines.push('break', '}');
  }
  lines.push('default:r.skipType(t&7,n)', '}', '}', 'if(l!==undefined){', 'if(r.pos!==c)throw RangeError("index out of range")', 'r.len=l', '}', 'return d', '}');
  return lines.join('\n');
}

module.exports = { plainDecoder, SHARED_SOURCE };
