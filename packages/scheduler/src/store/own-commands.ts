import { encodeAndDecoded, type Command, type StoreAction } from '@pisched/api';

/**
 * Actions whose objects hold no bytes field (and no float, which encoding would round): a
 * command of these alone may skip its decode. A service is one: a create's decode at apply
 * was 0.1–0.2 ms between its commit and its answer on the leader.
 */
const WITHOUT_BYTES = new Set<StoreAction['action']>(['putTask', 'putTaskOfService', 'putTaskStatus', 'assignTask', 'removeTask', 'putService']);

/**
 * The commands this member proposed, by the very bytes it proposed, as
 * decoding those bytes would give them back: the leader applies its own
 * command without decoding it again (a burst's placements and status
 * writes, thousands of tasks an entry, cost it as much to decode as to
 * encode). Only where that is exactly what decoding gives (task and service
 * puts, well-formed strings, see encodeAndDecoded), so the leader's state stays
 * the followers'; any other entry, and any entry whose bytes are not the
 * ones proposed here (from the log after a restart, from another
 * leader), is decoded.
 */
export class OwnCommands {
  private readonly byBytes = new WeakMap<Uint8Array, Command>();

  /** The bytes to propose for `command`, its decoded form remembered when it may stand in for decoding them. */
  encode(command: Command): Uint8Array {
    const { bytes, decoded } = encodeAndDecoded<Command>('Command', command);
    if (decoded.actions.every((action) => WITHOUT_BYTES.has(action.action)) && wellFormed(decoded)) this.byBytes.set(bytes, decoded);
    return bytes;
  }

  /** The command these bytes carry: the one remembered for them (once), else decoded. */
  take(bytes: Uint8Array, decode: (bytes: Uint8Array) => Command): Command {
    const command = this.byBytes.get(bytes);
    if (!command) return decode(bytes);
    this.byBytes.delete(bytes);
    return command;
  }
}

/** In Unicode mode a pair is one code point: only a lone surrogate is of this category. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Whether every string in value is well-formed UTF-16 (UTF-8 carries it unchanged). */
function wellFormed(value: unknown): boolean {
  if (typeof value === 'string') return !LONE_SURROGATE.test(value);
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) return value.every(wellFormed);
  for (const key in value) if (!wellFormed((value as Record<string, unknown>)[key])) return false;
  return true;
}
