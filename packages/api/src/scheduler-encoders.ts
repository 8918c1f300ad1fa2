import type { Writer } from 'protobufjs/minimal';
import type { Command } from './types';
// Written by gen-scheduler-encoders.js from proto/ at build.
import { encodeAssignmentChangesTo, encodeAssignmentsTo, encodeCommandTo, encodeServiceSpecTo, encodeTaskTo } from './gen/scheduler-encoders';

/** A plain object's encoding appended to `writer` (a new Writer if none), in one pass: the bytes encodeMessage gives. */
type EncodeTo = (value: object, writer?: Writer) => Writer;

/** A Command's bytes, as encodeMessage('Command', command) gives them: what a leader proposes. */
export function encodeCommand(command: Command): Uint8Array {
  return (encodeCommandTo as EncodeTo)(command).finish();
}

/** The one-pass encoders of the messages a leader's pushes are made of, by message name (see encodeCommand). */
export const PUSH_ENCODERS: Readonly<Record<'Task' | 'ServiceSpec' | 'Assignments' | 'AssignmentChanges', EncodeTo>> = {
  Task: encodeTaskTo,
  ServiceSpec: encodeServiceSpecTo,
  Assignments: encodeAssignmentsTo,
  AssignmentChanges: encodeAssignmentChangesTo,
};
