import net = require('node:net');

// Node's IPv6 check is one large regular expression that V8 compiles when it
// is first used: some 13 ms of a command's start (#17 item 3), spent on an
// IPv4 address or a name, since grpc-js asks about every address it dials and
// tls.connect about the server name. Every IPv6 address has a colon, so these
// give Node's answers and leave the expression to text that has one. Loaded
// first by the CLI's and the agent's main.ts, so only their own processes
// have them. In the agent, which dials its scheduler by an IPv4 address, the
// compiled expression was 135 KiB of its idle heap (a heap snapshot,
// docs/benchmarks/startup-and-footprint.md).
const isIPv4 = net.isIPv4;
const isIPv6 = net.isIPv6;

net.isIPv6 = (input: string) => String(input).includes(':') && isIPv6(input);
net.isIP = (input: string) => (isIPv4(input) ? 4 : net.isIPv6(input) ? 6 : 0);
