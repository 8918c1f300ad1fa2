require('node:http2'); require('node:tls'); require('node:http'); require('node:zlib');
require('./common').ready('bare');
