import type * as grpc from '@grpc/grpc-js';
import type { ClusterEvent, EventsRequest } from '@pisched/api';
import type { EventLog } from './event-log';

/**
 * The Control API's Events call: this member's held events from since_ms,
 * then each new one, until the caller cancels. Served by whichever member
 * the caller reached, from its own applied log: no leader is needed, which is
 * when one most wants to watch.
 */
export function eventsHandler(events: EventLog) {
  return {
    Events: (call: grpc.ServerWritableStream<EventsRequest, ClusterEvent>) => {
      const { sinceMs, types, names } = call.request;
      const stop = events.watch(Number(sinceMs), { types, names }, (event) => call.write(event));
      call.on('cancelled', stop);
      call.on('close', stop);
    },
  };
}
