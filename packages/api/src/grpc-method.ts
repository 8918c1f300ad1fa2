import type * as grpc from '@grpc/grpc-js';
import { EncodedMessage } from './encoded-message';

/**
 * How protobuf values become JS objects. The generated `__Output` types
 * assume exactly these options, so every decoder here uses them.
 */
export const CONVERSION = { longs: Number, enums: String, defaults: true, oneofs: true } as const;

/** A message's encoder from a plain object and decoder to one (CONVERSION), however they are made. */
export interface MessageCodec {
  encode(value: object): Uint8Array;
  decode(bytes: Uint8Array): object;
}

export interface MethodShape {
  service: string;
  name: string;
  requestStream: boolean;
  responseStream: boolean;
}

/** What proto-loader makes for one method, less the reflection data (test/proto-services.test.ts compares them). */
export function methodDefinition(method: MethodShape, request: MessageCodec & { name: string }, response: MessageCodec & { name: string }): grpc.MethodDefinition<object, object> {
  return {
    path: `/${method.service}/${method.name}`,
    requestStream: method.requestStream,
    responseStream: method.responseStream,
    requestSerialize: serializer(request),
    requestDeserialize: (bytes) => request.decode(bytes),
    responseSerialize: serializer(response),
    responseDeserialize: (bytes) => response.decode(bytes),
    // The lower-case alias grpc-js adds to clients (client.createService), as proto-loader names it.
    originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
  };
}

function serializer(codec: MessageCodec & { name: string }): (value: object) => Buffer {
  return (value) => {
    if (value instanceof EncodedMessage) return value.bytes;
    if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${codec.name} structure, got array instead`);
    return codec.encode(value) as Buffer;
  };
}
