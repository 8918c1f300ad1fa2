// Shared by the layer scripts: keep the process alive and idle, tell the parent we are ready.
exports.ready = (what) => { process.stderr.write(`layer ready: ${what}\n`); setInterval(() => {}, 1 << 30); };
exports.tlsFiles = () => {
  const fs = require('node:fs'); const path = require('node:path');
  const dir = path.join(process.env.LAYER_DATA_DIR, 'tls');
  return { ca: fs.readFileSync(path.join(dir, 'ca.pem')), cert: fs.readFileSync(path.join(dir, 'node.pem')), key: fs.readFileSync(path.join(dir, 'node.key')) };
};
