/**
 * Whether two decoded task specs are the same, walked side by side and left
 * at the first difference. Comparing their JSON made two strings of every
 * task of every assignment set: a process of 900 simulated nodes spent a
 * quarter of its time there while 100 services were removed, and held its
 * event loop for 3 s and more, every node's heartbeats with it (issue #17).
 * A key set to undefined counts as a difference (JSON would drop it): the
 * task is then only looked at again, which is always safe.
 */
export function sameSpec(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameSpec(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  let keys = 0;
  for (const key in left) {
    keys++;
    if (!Object.prototype.hasOwnProperty.call(right, key) || !sameSpec(left[key], right[key])) return false;
  }
  for (const _key in right) keys--;
  return keys === 0;
}
