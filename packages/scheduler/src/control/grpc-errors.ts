import * as grpc from '@grpc/grpc-js';
import { SpecError } from '@pisched/api';
import { StoreConflictError } from '../store/store';

/** An error with the gRPC status a client should see; details is one line for a person. */
export class ApiError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export function notFound(what: string): ApiError {
  return new ApiError(grpc.status.NOT_FOUND, `${what} not found`);
}

export function toServiceError(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof ApiError) return { code: error.code, details: error.message };
  if (error instanceof SpecError) return { code: grpc.status.INVALID_ARGUMENT, details: error.message };
  if (error instanceof StoreConflictError) {
    const code = /already in use/.test(error.message) ? grpc.status.ALREADY_EXISTS : grpc.status.ABORTED;
    return { code, details: error.message };
  }
  return { code: grpc.status.INTERNAL, details: (error as Error)?.message ?? String(error) };
}
