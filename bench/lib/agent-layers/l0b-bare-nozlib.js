require('node:http2'); require('node:tls'); require('node:http');
require('./common').ready('bare-nozlib');
