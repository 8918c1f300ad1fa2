const { open } = require('./grpc-channel');
const api = require('@pisched/api');
api.loadGrpc();
for (const name of ['AgentMessage', 'DispatcherMessage', 'Task', 'NodeDescription']) { try { api.messageType(name).setup(); } catch {} }
open();
const log = require('pino')({ base: undefined }, require('pino').destination(2));
log.info('layer pino');
const Docker = require('dockerode');
new Docker().listContainers({ all: true }).then(() => require('./common').ready('pino'), () => require('./common').ready('pino'));
