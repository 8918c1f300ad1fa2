// Writes src/gen/codecs.ts: the encoders and decoders of the messages the
// agent sends and receives, as plain functions, so that the agent needs
// neither protobufjs's reflection of the whole API package nor the descriptor
// it is built from (about 1 MiB of an idle agent's heap, #17). The encoders
// are protobufjs's own: the very code its reflection generates with `new
// Function` at first use (constructor, converter, encoder), written out here
// with each reference to another type (`types[i]`) made a reference to that
// type's entry, so the bytes are protobufjs's by construction. The decoders
// read the bytes straight into the plain object protobufjs's decoder and
// converter make together (gen-plain-decoder.js). packages/api/test/
// agent-services.test.ts holds both to the reflection's, and this file to proto/.
const protobuf = require('protobufjs');
const { moduleHead, writeWhenRun } = require('./gen-module');
const { plainDecoder, SHARED_SOURCE } = require('./gen-plain-decoder');

/** The calls an agent makes: its session, and the join and renewal of its certificate (security/*-client.ts). */
const METHODS = ['pisched.v1.Dispatcher.Session', 'pisched.v1.Control.IssueNodeCertificate', 'pisched.v1.Control.RenewNodeCertificate'];

/** Every message and enum `types` reach through their fields, by full name without the leading dot. */
function reachable(types) {
  const seen = new Map();
  const visit = (type) => {
    const name = type.fullName.slice(1);
    if (seen.has(name)) return;
    seen.set(name, type);
    if (type instanceof protobuf.Type) for (const field of type.fieldsArray) if (field.resolve().resolvedType) visit(field.resolvedType);
  };
  types.forEach(visit);
  return [...seen];
}

/** One generated function's source, its `types[i]` made the entry of field i's type. */
function source(codegen, type) {
  return codegen.toString().replace(/\btypes\[(\d+)\]/g, (_, i) => `T[${JSON.stringify(type.fieldsArray[Number(i)].resolvedType.fullName.slice(1))}]`);
}

/**
 * The agent encodes what it sends (ctor, fromObject, encode) and decodes what
 * it receives straight to the plain object (decode, gen-plain-decoder.js): only
 * those are written. `shared`: the fields decoded once per value (undefined:
 * the agent's; gen-scheduler-decoders.js passes none).
 */
function entry(name, type, sent, received, shared) {
  if (type instanceof protobuf.Enum) return `T[${JSON.stringify(name)}] = { values: ${JSON.stringify(type.valuesById)} };`;
  const parts = [];
  if (sent) parts.push(['ctor', source(protobuf.Type.generateConstructor(type), type)], ['fromObject', source(protobuf.converter.fromObject(type), type)], ['encode', source(protobuf.encoder(type), type)]);
  if (received) parts.push(['decode', plainDecoder(type, shared)]);
  return `T[${JSON.stringify(name)}] = {\n${parts.map(([key, code]) => `${key}: ${code},`).join('\n')}\n};`;
}

function codecsSource(root) {
  const methods = METHODS.map((fullName) => {
    const method = root.lookup(fullName);
    method.resolve();
    return {
      service: method.parent.fullName.slice(1),
      name: method.name,
      requestStream: !!method.requestStream,
      responseStream: !!method.responseStream,
      requestType: method.resolvedRequestType.fullName.slice(1),
      responseType: method.resolvedResponseType.fullName.slice(1),
    };
  });
  const sent = new Map(reachable(METHODS.map((fullName) => root.lookup(fullName).resolvedRequestType)));
  const received = new Map(reachable(METHODS.map((fullName) => root.lookup(fullName).resolvedResponseType)));
  const types = [...new Map([...sent, ...received])].sort(([a], [b]) => (a < b ? -1 : 1));
  return (
    moduleHead('gen-codecs.js', ['Writer', 'Reader', 'util']) +
    SHARED_SOURCE +
    types.map(([name, type]) => entry(name, type, sent.has(name), received.has(name))).join('\n') +
    `\nexport const CODECS = T;\n` +
    `export const METHODS = ${JSON.stringify(methods, null, 2)};\n`
  );
}

module.exports = { codecsSource, entry, reachable, METHODS };

writeWhenRun(module, 'codecs.ts', codecsSource);
