/**
 * What a certificate lets its holder do: a worker runs an agent (its own
 * dispatcher session only), a manager is a scheduler member (Raft, forwarding,
 * status, and it serves every other role), an admin drives the Control API.
 */
export type Role = 'worker' | 'manager' | 'admin';

export const ROLES: readonly Role[] = ['worker', 'manager', 'admin'];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** The SAN URIs a node certificate carries: its role and its node id. */
export const ROLE_URI_PREFIX = 'pisched://role/';
export const NODE_URI_PREFIX = 'pisched://node/';

/** A node or member id as agents and schedulers accept it (it shows in logs, file names and certificates). */
export const CERT_NODE_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;
