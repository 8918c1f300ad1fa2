const { open } = require('./grpc-channel');
require('./agent-codecs').useAgentCodecs();
open();
const Docker = require('dockerode');
new Docker().listContainers({ all: true }).then(() => require('./common').ready('docker'), (e) => { process.stderr.write(e.message + '\n'); require('./common').ready('docker'); });
