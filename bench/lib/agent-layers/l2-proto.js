const { open } = require('./grpc-channel');
const api = require('@pisched/api');
api.loadGrpc();
for (const name of ['AgentMessage', 'DispatcherMessage', 'Task', 'NodeDescription']) { try { api.messageType(name).setup(); } catch (e) { process.stderr.write(`${name}: ${e.message}\n`); } }
open();
require('./common').ready('proto');
