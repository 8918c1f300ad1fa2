// proto/ parsed by protobufjs, as both build steps (gen-descriptor.js,
// gen-codecs.js) and the test that holds their output to proto/ read it.
const path = require('node:path');
const protobuf = require('protobufjs');

const PROTO_DIR = path.resolve(__dirname, '../../proto');
const FILES = ['pisched/v1/objects.proto', 'pisched/v1/control.proto', 'pisched/v1/dispatcher.proto'];

function loadProtoRoot() {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  // camelCase field names: what proto-loader and the generated types use.
  root.loadSync(FILES, { keepCase: false });
  root.resolveAll();
  return root;
}

module.exports = { loadProtoRoot };
