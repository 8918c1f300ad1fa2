// The API package with the agent's codecs, generated from proto/ at build (agent-services.ts): one message each way, as a session makes them.
exports.useAgentCodecs = () => {
  const session = require('@pisched/api').agentGrpc().Dispatcher.service.Session;
  session.requestSerialize({ heartbeat: {} });
  session.responseDeserialize(Buffer.alloc(0));
};
