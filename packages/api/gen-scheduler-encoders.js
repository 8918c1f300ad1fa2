// Writes src/gen/scheduler-encoders.ts: one-pass encoders (gen-plain-encoder.js)
// of what a leader encodes by the thousand in a burst: the tasks, specs and
// the rest of the assignment sets it pushes. (Its own Commands were tried
// too, with the leader decoding its entries as the followers do: no less CPU
// in the profiles than the reflection's encoding and the copy it keeps,
// docs/benchmarks/scale.md, round 14.) Not
// exported by the package's index, as the decoders (gen-scheduler-decoders.js):
// only the scheduler imports them (@pisched/api/dist/scheduler-encoders).
// packages/api/test/scheduler-encoders.test.ts holds them to the reflection's
// bytes and this file to proto/.
const protobuf = require('protobufjs');
const { moduleHead, writeWhenRun } = require('./gen-module');
const { reachable } = require('./gen-codecs');
const { plainEncoder, LONG_SOURCE } = require('./gen-plain-encoder');

/** The messages encoded, by the name each encoder is exported under. */
const ENCODED = {
  encodeTaskTo: 'pisched.v1.Task',
  encodeServiceSpecTo: 'pisched.v1.ServiceSpec',
  encodeAssignmentsTo: 'pisched.v1.Assignments',
  encodeAssignmentChangesTo: 'pisched.v1.AssignmentChanges',
};

function schedulerEncodersSource(root) {
  const types = reachable(Object.values(ENCODED).map((name) => root.lookupType(name)))
    .filter(([, type]) => type instanceof protobuf.Type)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return (
    moduleHead('gen-scheduler-encoders.js', ['Writer', 'util']) +
    LONG_SOURCE +
    types.map(([name, type]) => `T[${JSON.stringify(name)}] = { encode: ${plainEncoder(type)} };`).join('\n') +
    '\n' +
    Object.entries(ENCODED).map(([exported, name]) => `export const ${exported} = T[${JSON.stringify(name)}].encode;\n`).join('')
  );
}

module.exports = { schedulerEncodersSource };

writeWhenRun(module, 'scheduler-encoders.ts', schedulerEncodersSource);
