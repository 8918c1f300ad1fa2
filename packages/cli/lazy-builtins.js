// The CLI bundle's lazy modules (scripts/lazy-builtins.js says how).
// commander needs child_process only to run external subcommands (never),
// grpc-js zlib only to compress; loading the two was several milliseconds of
// every command's start (#17 item 3). http2, https, tls and dns (grpc-js's and
// the API package's) load when a command makes its first call, so that
// `--help`, `completion` and a command refused for its flags do not load them
// (some 200 fewer fresh pages for --help). net stays: quick-ip-checks.ts replaces two of
// its functions on the real module before anything dials. grpc-js itself
// loads only for the streams (events, logs, image push): unary calls go over
// node:http2 (src/unary-channel.ts), and its status codes are written in.
module.exports = require('../../scripts/lazy-builtins')(['child_process', 'zlib', 'http2', 'https', 'tls', 'dns', '@grpc/grpc-js']);
