import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { decodeMessage, loadGrpc, type Command } from '@pisched/api';
import { Store } from '../src/store/store';
import { Dispatcher, type DispatcherOptions } from '../src/dispatcher/dispatcher';
import { dispatcherService } from '../src/dispatcher/session-service';
import { updateReportRules } from '../src/updater/report-rules';
import { testClock } from './fixtures';

/** Polls check every 10 ms until it gives a value (about 5 s at most). */
export async function until<T>(check: () => T | undefined, tries = 500): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not reached');
}

/** A client of the Dispatcher service whose session stream yields messages of shape M. */
export type SessionClient<M = object> = grpc.Client & { Session(): grpc.ClientDuplexStream<object, M> };

/**
 * A dispatcher over `store` served on loopback (no TLS: what is tested is the
 * dispatcher, not the channel), with a client. It is not started: a test
 * starts it as a leader would, or leaves it a member that does not lead.
 * close stops all three.
 */
export async function serveDispatcher<M = object>(store: Store, options: Partial<DispatcherOptions> = {}, clock = testClock()) {
  const dispatcher = new Dispatcher(store, clock, { heartbeatPeriodMs: 1_000, heartbeatGrace: 30, reportRules: updateReportRules, ...options }, pino({ level: 'silent' }));
  const server = new grpc.Server();
  // As a scheduler serves it (scheduler-server.ts).
  server.addService(dispatcherService(), dispatcher.handlers());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const client = new (loadGrpc().Dispatcher)(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as SessionClient<M>;
  const close = () => {
    dispatcher.stop();
    client.close();
    server.forceShutdown();
  };
  return { dispatcher, client, clock, close };
}

/** A store whose commands are applied at once, as a one-member log would, and kept (decoded) in `logged`. */
export function loggingStore(): { store: Store; logged: Command[] } {
  const store = new Store();
  let index = 0;
  const logged: Command[] = [];
  store.attach({
    propose: async (data) => {
      logged.push(decodeMessage<Command>('Command', data));
      return store.applyEntry(++index, data);
    },
  });
  return { store, logged };
}
