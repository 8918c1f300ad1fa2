const { open } = require('./grpc-channel');
const api = require('@pisched/api');
// The agent's codecs, generated from proto/ at build (agent-services.ts): one message each way, as a session makes them.
const session = api.agentGrpc().Dispatcher.service.Session;
session.requestSerialize({ heartbeat: {} });
session.responseDeserialize(Buffer.alloc(0));
open();
const Docker = require('dockerode');
new Docker().listContainers({ all: true }).then(() => require('./common').ready('docker'), (e) => { process.stderr.write(e.message + '\n'); require('./common').ready('docker'); });
