import type { StatusReportRules } from '../dispatcher/dispatcher';
import { raisedByEnd } from '../orchestrator/replicated';
import { waitedOnByUpdate } from './updater-pass';

/**
 * The rules of a task's status report during a rolling update, as the
 * dispatcher applies them when it writes the report: one the update's next
 * step waits on (a task of it up or ended) is written at once, as the control
 * loop answers it at once; and the old task's end clears its prepared
 * successor's mark in the same command, by the orchestrator's own rule. The
 * same functions the updater and the orchestrator run, not copies; wired in
 * scheduler-server.ts, so the dispatcher imports neither role's rules.
 */
export const updateReportRules: StatusReportRules = {
  awaited: waitedOnByUpdate,
  alsoWrites: raisedByEnd,
};
