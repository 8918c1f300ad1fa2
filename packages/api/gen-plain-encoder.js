// The source of an encoder that writes a plain object's bytes in one pass:
// the bytes protobufjs's fromObject and then encode make of it, without the
// message fromObject builds in between (a new object per message, a Long per
// 64-bit value). The leader encodes each new task entry of its pushes, and
// the rest of each set: the two passes were 2.8 % and more of its busy time
// in a 10k-task burst (issue #17, round 13). Each value is converted as fromObject converts it and
// written with the Writer call encode makes, fields in encode's order (by
// number); every field fromObject would set is written, defaults included,
// as protobufjs does. packages/api/test/scheduler-encoders.test.ts holds the
// bytes equal to the reflection's.
const protobuf = require('protobufjs');

/** `T["name"]`: the entry of another message in the generated file. */
const entryOf = (type) => `T[${JSON.stringify(type.fullName.slice(1))}]`;

/** The Writer method protobufjs's encoder calls for a value of `field`. */
const writerCall = (field) => (field.resolvedType instanceof protobuf.Enum ? 'int32' : field.type);

/**
 * Statements setting `x` to what fromObject makes of the value `v` of
 * `field` (not a message), leaving it undefined where fromObject sets
 * nothing (an unknown enum name, a bytes value without a length…).
 * `repeated`: an element of a repeated field, which fromObject never leaves
 * unset for an enum (an unknown name is the default).
 */
function converted(field, repeated) {
  if (field.resolvedType instanceof protobuf.Enum) {
    const values = field.resolvedType.values;
    const cases = Object.keys(values).map((name) => `case ${JSON.stringify(name)}:case ${values[name]}:x=${values[name]};break`);
    return [`switch(v){`, ...cases, `default:if(typeof v==="number")x=v${repeated ? `;else x=${field.typeDefault}` : ''}`, `}`];
  }
  switch (field.type) {
    case 'double':
    case 'float':
      return ['x=Number(v)'];
    case 'uint32':
    case 'fixed32':
      return ['x=v>>>0'];
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return ['x=v|0'];
    case 'string':
      return ['x=String(v)'];
    case 'bool':
      return ['x=Boolean(v)'];
    case 'bytes':
      return ['if(typeof v==="string")util.base64.decode(v,x=util.newBuffer(util.base64.length(v)),0)', 'else if(v.length>=0)x=v'];
  }
  // A safe integer (not negative, for an unsigned type) is written as the number: the Writer makes of it the very bits of the Long fromObject would make.
  const unsigned = field.type === 'uint64' || field.type === 'fixed64';
  return [`x=typeof v==="number"&&Number.isSafeInteger(v)${unsigned ? '&&v>=0' : ''}?v:long(v,${unsigned})`];
}

/** Statements writing the message `v` (checked as fromObject checks it) behind `head` (a Writer expression). */
function nested(field, head) {
  return [`if(!util.isObject(v))throw TypeError(${JSON.stringify(`${field.fullName}: object expected`)})`, `${entryOf(field.resolvedType)}.encode(v,${head}.fork(),n+1).ldelim()`];
}

const tag = (field, wireType) => (field.id << 3) | wireType;

function mapField(field, prop) {
  const type = writerCall(field);
  const wireType = protobuf.types.basic[type];
  const key = `w.uint32(${tag(field, 2)}).fork().uint32(${8 | protobuf.types.mapKey[field.keyType]}).${field.keyType}(k)`;
  return [
    `if(d${prop}){`,
    `if(!util.isObject(d${prop}))throw TypeError(${JSON.stringify(`${field.fullName}: object expected`)})`,
    `for(var ks=Object.keys(d${prop}),i=0;i<ks.length;++i){`,
    `var k=ks[i]`,
    `v=d${prop}[k]`,
    ...(wireType === undefined
      ? nested(field, key + '.uint32(18)').map((line, i) => (i === 1 ? `${line}.ldelim()` : line))
      : [
          'x=undefined',
          ...converted(field, false),
          // fromObject leaves such a key out of its map, but for __proto__, which it makes a property first.
          'if(x===undefined&&k!=="__proto__")continue',
          `${key}.uint32(${16 | wireType}).${type}(x).ldelim()`,
        ]),
    '}',
    '}',
  ];
}

function repeatedField(field, prop) {
  const type = writerCall(field);
  const wireType = protobuf.types.basic[type];
  const lines = [`if(d${prop}){`, `if(!Array.isArray(d${prop}))throw TypeError(${JSON.stringify(`${field.fullName}: array expected`)})`];
  if (wireType === undefined) {
    lines.push(`for(var i=0;i<d${prop}.length;++i){`, `v=d${prop}[i]`, ...nested(field, `w.uint32(${tag(field, 2)})`), '}');
  } else if (field.packed && protobuf.types.packed[type] !== undefined) {
    lines.push(`if(d${prop}.length){`, `w.uint32(${tag(field, 2)}).fork()`, `for(var i=0;i<d${prop}.length;++i){`, `v=d${prop}[i]`, 'x=undefined', ...converted(field, true), `w.${type}(x)`, '}', 'w.ldelim()', '}');
  } else {
    lines.push(`for(var i=0;i<d${prop}.length;++i){`, `v=d${prop}[i]`, 'x=undefined', ...converted(field, true), `w.uint32(${tag(field, wireType)}).${type}(x)`, '}');
  }
  lines.push('}');
  return lines;
}

function singleField(field, prop) {
  const type = writerCall(field);
  const wireType = protobuf.types.basic[type];
  if (wireType === undefined) return [`v=d${prop}`, 'if(v!=null){', ...nested(field, `w.uint32(${tag(field, 2)})`), '}'];
  return [`v=d${prop}`, 'if(v!=null){', 'x=undefined', ...converted(field, false), `if(x!=null)w.uint32(${tag(field, wireType)}).${type}(x)`, '}'];
}

/**
 * The source of `name$encode(d, w, n)`: the plain object, the Writer to
 * append to (undefined: a new one), the nesting depth; returns the Writer.
 * Calls `long(v, unsigned)`, fromObject's conversion of a 64-bit value that
 * is not a safe integer (LONG_SOURCE, written once into the file).
 */
function plainEncoder(type) {
  const fields = type.fieldsArray.slice().sort((a, b) => a.id - b.id);
  fields.forEach((field) => field.resolve());
  const lines = [`function ${type.name}$encode(d,w,n){`];
  // fromObject takes anything for a message without fields, and encode writes nothing of it.
  if (fields.length) lines.push(`if(!util.isObject(d))throw TypeError(${JSON.stringify(`${type.fullName}: object expected`)})`);
  lines.push('if(!w)w=Writer.create()', 'if(n===undefined)n=0', `if(n>util.recursionLimit)throw Error(${JSON.stringify(fields.length ? 'maximum nesting depth exceeded' : 'max depth exceeded')})`, 'var v,x');
  for (const field of fields) {
    const prop = `[${JSON.stringify(field.name)}]`;
    if (field.map) lines.push(...mapField(field, prop));
    else if (field.repeated) lines.push(...repeatedField(field, prop));
    else lines.push(...singleField(field, prop));
  }
  lines.push('return w', '}');
  return lines.join('\n');
}

/** fromObject's conversion of a 64-bit value (protobufjs's converter), for what is not a safe integer. */
const LONG_SOURCE = `function long(v,u){
if(util.Long)return util.Long.fromValue(v,u)
if(typeof v==="string")return parseInt(v,10)
if(typeof v==="number")return v
if(typeof v==="object")return new util.LongBits(v.low>>>0,v.high>>>0).toNumber(u)
}
`;

module.exports = { plainEncoder, LONG_SOURCE };
