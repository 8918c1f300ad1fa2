require('./grpc-channel').open();
require('./common').ready('grpc');
