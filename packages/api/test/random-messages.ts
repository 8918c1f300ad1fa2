import * as protobuf from 'protobufjs';

/** A small deterministic random source, so a failure names a seed that repeats it. */
export function randomSource(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** A value for every field of `type` (each oneof member too), as a caller would give them: numbers, enum names, strings, buffers. */
export function anyMessage(type: protobuf.Type, random: () => number, depth = 0): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    if (random() < 0.2) continue;
    field.resolve();
    const one = () => anyValue(field.type, field.resolvedType, random, depth);
    if (field.map) {
      const map: Record<string, unknown> = {};
      for (let i = 0; i < 2; i++) map[(field as unknown as protobuf.MapField).keyType === 'string' ? `k${i}-${Math.floor(random() * 100)}` : String(i + Math.floor(random() * 100))] = one();
      value[field.name] = map;
    } else if (field.repeated) {
      value[field.name] = Array.from({ length: Math.floor(random() * 3) }, one);
    } else {
      value[field.name] = one();
    }
  }
  return value;
}

function anyValue(kind: string, resolved: protobuf.ReflectionObject | null, random: () => number, depth: number): unknown {
  if (resolved instanceof protobuf.Type) return depth > 3 ? {} : anyMessage(resolved, random, depth + 1);
  if (resolved instanceof protobuf.Enum) {
    const names = Object.keys(resolved.values);
    return names[Math.floor(random() * names.length)];
  }
  const n = Math.floor(random() * 2 ** 31);
  switch (kind) {
    case 'string':
      return random() < 0.5 ? `s${n}` : `zählt ✓ ${n} 𝄞`;
    case 'bytes':
      return Buffer.from([n & 255, (n >> 8) & 255, 0, 7]);
    case 'bool':
      return random() < 0.5;
    case 'double':
      return n / 7;
    case 'float':
      return n / 256;
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return random() < 0.3 ? -n : n;
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return random() < 0.3 ? -n * 4096 : n * 4096;
    default:
      return n; // uint32, fixed32, uint64, fixed64
  }
}
