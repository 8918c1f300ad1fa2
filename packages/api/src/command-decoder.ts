import type { Command } from './types';
// Written by gen-command-decoder.js from proto/ at build.
import { decodeCommandBytes } from './gen/command-decoder';

/**
 * A logged Command as decodeMessage('Command', bytes) gives it, read in one
 * pass straight to the plain object: what a member does with every entry it
 * did not propose itself.
 */
export function decodeCommand(bytes: Uint8Array): Command {
  return decodeCommandBytes(bytes) as Command;
}
