import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';
import type { ProtoGrpcType as ControlProto } from './gen/control';
import type { ProtoGrpcType as DispatcherProto } from './gen/dispatcher';
// proto/ parsed at build time (gen-descriptor.js): no .proto text is parsed at a start.
import { DESCRIPTOR } from './gen/descriptor';

/**
 * How protobuf values become JS objects. The generated `__Output` types
 * assume exactly these options, so every decoder here uses them.
 */
export const CONVERSION = { longs: Number, enums: String, defaults: true, oneofs: true } as const;

type Grpc = ControlProto & DispatcherProto;

let grpcObject: Grpc | undefined;

/** The gRPC service definitions (Control, Dispatcher), loaded once. */
export function loadGrpc(): Grpc['pisched']['v1'] {
  if (!grpcObject) {
    const definition = protoLoader.fromJSON(DESCRIPTOR as protobuf.INamespace, { ...CONVERSION, keepCase: false });
    grpcObject = grpc.loadPackageDefinition(definition) as unknown as Grpc;
  }
  return grpcObject.pisched.v1;
}

let root: protobuf.Root | undefined;

function messageType(name: string): protobuf.Type {
  if (!root) {
    root = protobuf.Root.fromJSON(DESCRIPTOR as protobuf.INamespace);
  }
  return root.lookupType(`pisched.v1.${name}`);
}

/** Binary encoding of a proto message given as a plain object, e.g. a Command for the log. */
export function encodeMessage(name: string, value: object): Uint8Array {
  const type = messageType(name);
  return type.encode(type.fromObject(value)).finish();
}

/** The inverse of encodeMessage, yielding the `__Output` shape of the type. */
export function decodeMessage<T>(name: string, bytes: Uint8Array): T {
  const type = messageType(name);
  return type.toObject(type.decode(bytes), CONVERSION) as T;
}
