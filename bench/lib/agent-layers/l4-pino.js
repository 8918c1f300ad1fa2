const { open } = require('./grpc-channel');
require('./agent-codecs').useAgentCodecs();
open();
const log = require('pino')({ base: undefined }, require('pino').destination(2));
log.info('layer pino');
const Docker = require('dockerode');
new Docker().listContainers({ all: true }).then(() => require('./common').ready('pino'), () => require('./common').ready('pino'));
