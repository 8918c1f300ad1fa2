// Writes src/gen/scheduler-decoders.ts: decoders of what a scheduler reads by
// the thousand in a burst, straight to the plain object protobufjs's decode
// and toObject (CONVERSION) make of it together, written by
// gen-plain-decoder.js as the agent's are: the store's Command (a Raft entry,
// decoded by every member but the one that proposed it, thousands of tasks an
// entry) and the agents' session messages (their status reports). The two
// passes (a protobufjs message, a Long per 64-bit value, then toObject's copy
// with every default) were a tenth to a sixth of a follower's busy time, and 3.8 %
// of the leader's, in a 10k-task burst (issue #17, round 13).
// packages/api/test/scheduler-decoders.test.ts holds them to the reflection's
// decode and this file to proto/. Not exported by the package's index: only
// the scheduler imports them (@pisched/api/dist/scheduler-decoders), so the
// CLI's bundle, which takes the whole index, stays without them.
const { moduleHead, writeWhenRun } = require('./gen-module');
const { entry, reachable } = require('./gen-codecs');

/** The messages decoded, by the name each decoder is exported under. */
const DECODED = { decodeCommandBytes: 'pisched.v1.Command', decodeAgentMessageBytes: 'pisched.v1.AgentMessage' };

/**
 * No field is shared: the store keeps what it decodes and the state machine
 * rewrites a command's actions in place, so nothing decoded here may be frozen.
 */
const NONE_SHARED = new Set();

function schedulerDecodersSource(root) {
  const types = reachable(Object.values(DECODED).map((name) => root.lookupType(name))).sort(([a], [b]) => (a < b ? -1 : 1));
  return (
    moduleHead('gen-scheduler-decoders.js', ['Reader', 'util']) +
    types.map(([name, type]) => entry(name, type, false, true, NONE_SHARED)).join('\n') +
    '\n' +
    Object.entries(DECODED).map(([exported, name]) => `export const ${exported} = T[${JSON.stringify(name)}].decode;\n`).join('')
  );
}

module.exports = { schedulerDecodersSource };

writeWhenRun(module, 'scheduler-decoders.ts', schedulerDecodersSource);
