import type { AgentMessage__Output, Command } from './types';
// Written by gen-scheduler-decoders.js from proto/ at build.
import { decodeAgentMessageBytes, decodeCommandBytes } from './gen/scheduler-decoders';

/**
 * A logged Command as decodeMessage('Command', bytes) gives it, read in one
 * pass straight to the plain object: what a member does with every entry it
 * did not propose itself.
 */
export function decodeCommand(bytes: Uint8Array): Command {
  return decodeCommandBytes(bytes) as Command;
}

/** An agent's session message as the reflection's Dispatcher definition decodes it, in one pass (each status report a leader reads). */
export function decodeAgentMessage(bytes: Uint8Array): AgentMessage__Output {
  return decodeAgentMessageBytes(bytes) as AgentMessage__Output;
}
