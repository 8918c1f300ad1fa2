const { open } = require('./grpc-channel');
const api = require('@pisched/api');
// The agent's codecs, generated from proto/ at build (agent-services.ts): one message each way, as a session makes them.
const session = api.agentGrpc().Dispatcher.service.Session;
session.requestSerialize({ heartbeat: {} });
session.responseDeserialize(Buffer.alloc(0));
open();
require('./common').ready('proto');
