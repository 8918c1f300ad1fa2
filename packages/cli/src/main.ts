import { main } from './program';

// The executable's entry (bin/pisched.js); everything testable lives in program.ts.
process.on('SIGINT', () => {
  process.stderr.write('\ninterrupted: the scheduler carries on with the change; see pisched ps\n');
  process.exit(130);
});

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // gRPC may keep a socket briefly after close(); never let that hold the shell.
  setTimeout(() => process.exit(code), 200).unref();
});
