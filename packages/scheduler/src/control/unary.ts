import type * as grpc from '@grpc/grpc-js';
import { toServiceError } from './grpc-errors';

/**
 * A gRPC unary handler from an async function of the request: its answer is
 * the response, and whatever it throws becomes the status (an ApiError keeps
 * its code and one-line message).
 */
export function unary<Req, Res>(handler: (request: Req) => Promise<Res> | Res) {
  return (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
    Promise.resolve()
      .then(() => handler(call.request))
      .then(
        (response) => callback(null, response),
        (error) => callback(toServiceError(error)),
      );
  };
}
