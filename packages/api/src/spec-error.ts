/** A spec that cannot be accepted; the message is one line a person can act on. */
export class SpecError extends Error {
  override name = 'SpecError';
}
