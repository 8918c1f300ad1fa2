const { open } = require('./grpc-channel');
require('./agent-codecs').useAgentCodecs();
open();
require('./common').ready('proto');
