// Before anything dials: see @pisched/api's quick-ip-checks.ts.
import '@pisched/api/dist/quick-ip-checks';
import { main } from './program';

// The executable's entry (bin/pisched.js); everything testable lives in program.ts.
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // gRPC may keep a socket briefly after close(); never let that hold the shell.
  setTimeout(() => process.exit(code), 200).unref();
});
