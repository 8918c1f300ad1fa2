import { createClusterCa, issueIdentity, type ClusterCa, type Role, type TlsIdentity } from '@pisched/api';

/** One throwaway CA for a test file: real mutual TLS, made once. */
let ca: Promise<ClusterCa> | undefined;
function testCa(): Promise<ClusterCa> {
  ca ??= createClusterCa();
  return ca;
}

/** One manager identity of that CA, shared by a test file's members. */
let made: Promise<TlsIdentity> | undefined;
export function memberIdentity(): Promise<TlsIdentity> {
  made ??= testCa().then((root) => issueIdentity(root, 'test-member', 'manager'));
  return made;
}

/** Another identity of the same CA, e.g. an agent's. */
export async function identityOf(nodeId: string, role: Role): Promise<TlsIdentity> {
  return issueIdentity(await testCa(), nodeId, role);
}
