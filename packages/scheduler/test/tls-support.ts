import { createClusterCa, issueIdentity, type TlsIdentity } from '@pisched/api';

/** One manager identity of a throwaway CA, shared by a test file's members: real mutual TLS, made once. */
let made: Promise<TlsIdentity> | undefined;
export function memberIdentity(): Promise<TlsIdentity> {
  made ??= createClusterCa().then((ca) => issueIdentity(ca, 'test-member', 'manager'));
  return made;
}
