const { open } = require('./grpc-channel');
const api = require('@pisched/api');
// The agent's codecs, generated from proto/ at build (agent-services.ts): one message each way, as a session makes them.
const session = api.agentGrpc().Dispatcher.service.Session;
session.requestSerialize({ heartbeat: {} });
session.responseDeserialize(Buffer.alloc(0));
open();
const log = require('pino')({ base: undefined }, require('pino').destination(2));
log.info('layer pino');
const Docker = require('dockerode');
new Docker().listContainers({ all: true }).then(() => require('./common').ready('pino'), () => require('./common').ready('pino'));
