import * as grpc from '@grpc/grpc-js';
import type { ControlHandlers } from '@pisched/api';

/** A Control API refusal, with the gRPC code and the one line the handler gave. */
export class ControlCallError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** How long an action may wait for a leader (an election) before the page is told. */
const CALL_DEADLINE_MS = 10_000;

type Unary = (call: unknown, callback: (error: Partial<grpc.StatusObject> | null, response?: unknown) => void) => void;

/**
 * Calls the member's own Control API handlers in process, as a gRPC call
 * would reach them: the same validation and store commands, and on a
 * follower the same forwarding to the leader (under this member's
 * certificate). The dashboard has authenticated the person already.
 */
export function localControl(handlers: ControlHandlers) {
  return <Res>(name: keyof ControlHandlers & string, request: unknown): Promise<Res> =>
    new Promise((resolve, reject) => {
      const deadline = Date.now() + CALL_DEADLINE_MS;
      const call = {
        request,
        metadata: new grpc.Metadata(),
        getDeadline: () => deadline,
        getPeer: () => 'dashboard',
        getAuthContext: () => ({}),
        cancelled: false,
      };
      (handlers[name] as unknown as Unary)(call, (error, response) => {
        if (error) reject(new ControlCallError(error.code ?? grpc.status.UNKNOWN, error.details ?? 'the call failed'));
        else resolve(response as Res);
      });
    });
}

export type LocalControl = ReturnType<typeof localControl>;
