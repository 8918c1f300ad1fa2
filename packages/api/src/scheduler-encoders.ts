import type { Writer } from 'protobufjs/minimal';
// Written by gen-scheduler-encoders.js from proto/ at build.
import { encodeAssignmentChangesTo, encodeAssignmentsTo, encodeServiceSpecTo, encodeTaskTo } from './gen/scheduler-encoders';

/** A plain object's encoding appended to `writer` (a new Writer if none), in one pass: the bytes encodeMessage gives. */
type EncodeTo = (value: object, writer?: Writer) => Writer;

/** The one-pass encoders of the messages a leader's pushes are made of, by message name: each writes the bytes encodeMessage gives. */
export const PUSH_ENCODERS: Readonly<Record<'Task' | 'ServiceSpec' | 'Assignments' | 'AssignmentChanges', EncodeTo>> = {
  Task: encodeTaskTo,
  ServiceSpec: encodeServiceSpecTo,
  Assignments: encodeAssignmentsTo,
  AssignmentChanges: encodeAssignmentChangesTo,
};
