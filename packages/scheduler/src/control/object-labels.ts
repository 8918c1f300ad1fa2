import * as grpc from '@grpc/grpc-js';
import { ApiError } from './grpc-errors';

/** Labels given to a network, secret or config at its creation, as Swarm takes them: any value, a key that is not empty. */
export function objectLabels(kind: string, labels: Record<string, string> | undefined): Record<string, string> {
  const checked = { ...(labels ?? {}) };
  if (Object.keys(checked).some((key) => key.trim() === '')) throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid ${kind} label: a label needs a key`);
  return checked;
}
