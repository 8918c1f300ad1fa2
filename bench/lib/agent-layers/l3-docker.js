const { open } = require('./grpc-channel');
const api = require('@pisched/api');
api.loadGrpc();
for (const name of ['AgentMessage', 'DispatcherMessage', 'Task', 'NodeDescription']) { try { api.messageType(name).setup(); } catch {} }
open();
const Docker = require('dockerode');
new Docker().listContainers({ all: true }).then(() => require('./common').ready('docker'), (e) => { process.stderr.write(e.message + '\n'); require('./common').ready('docker'); });
