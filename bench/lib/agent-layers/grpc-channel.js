// grpc-js alone: one mTLS channel, the Dispatcher's bidi session opened with raw bytes.
const grpc = require('@grpc/grpc-js');
const tls = require('node:tls');
exports.open = () => {
  const { ca, cert, key } = require('./common').tlsFiles();
  const context = tls.createSecureContext({ ca, cert, key, minVersion: 'TLSv1.2' });
  const creds = grpc.credentials.createFromSecureContext(context, { checkServerIdentity: () => undefined });
  const client = new grpc.Client(process.env.LAYER_SCHEDULER, creds, { 'grpc.ssl_target_name_override': 'pisched', 'grpc.keepalive_time_ms': 10000 });
  const call = client.makeBidiStreamRequest('/pisched.v1.Dispatcher/Session', (b) => b, (b) => b);
  call.on('data', () => {}); call.on('error', (e) => process.stderr.write(`layer stream error: ${e.message}\n`));
  return { client, call };
};
