import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import type { ProtoGrpcType as ControlProto } from './gen/control';
import type { ProtoGrpcType as DispatcherProto } from './gen/dispatcher';
// proto/ parsed at build time (gen-descriptor.js): no .proto text is parsed at a start.
import { DESCRIPTOR } from './gen/descriptor';
import { EncodedMessage } from './encoded-message';

/**
 * How protobuf values become JS objects. The generated `__Output` types
 * assume exactly these options, so every decoder here uses them.
 */
export const CONVERSION = { longs: Number, enums: String, defaults: true, oneofs: true } as const;

type Services = Pick<(ControlProto & DispatcherProto)['pisched']['v1'], 'Control' | 'Dispatcher'>;

let root: protobuf.Root | undefined;

/**
 * The descriptor as protobufjs reflection. Not Root.fromJSON: its resolveAll
 * resolves every field of every message up front, when a command encodes a
 * handful; a type resolves its own fields when first used (Type.setup).
 */
function protoRoot(): protobuf.Root {
  if (!root) {
    const json = DESCRIPTOR as protobuf.INamespace;
    root = new protobuf.Root();
    if (json.options) root.setOptions(json.options);
    root.addJSON(json.nested ?? {});
  }
  return root;
}

let services: Services | undefined;

/**
 * The gRPC service definitions (Control, Dispatcher), loaded once. Built here
 * rather than by proto-loader, whose definitions also carry every message's
 * encoded FileDescriptorProto (for reflection, which nothing here serves):
 * making those was about 70 ms of each CLI command's start.
 */
export function loadGrpc(): Services {
  services ??= (
    grpc.loadPackageDefinition({
      'pisched.v1.Control': serviceDefinition('pisched.v1.Control'),
      'pisched.v1.Dispatcher': serviceDefinition('pisched.v1.Dispatcher'),
    }) as unknown as { pisched: { v1: Services } }
  ).pisched.v1;
  return services;
}

/** What proto-loader makes for a service, less the reflection data (test/proto-services.test.ts compares them). */
export function serviceDefinition(fullName: string): grpc.ServiceDefinition {
  const service = protoRoot().lookupService(fullName);
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const request = method.resolvedRequestType!;
    const response = method.resolvedResponseType!;
    definition[method.name] = {
      path: `/${fullName}/${method.name}`,
      requestStream: !!method.requestStream,
      responseStream: !!method.responseStream,
      requestSerialize: serializer(request),
      requestDeserialize: deserializer(request),
      responseSerialize: serializer(response),
      responseDeserialize: deserializer(response),
      // The lower-case alias grpc-js adds to clients (client.createService), as proto-loader names it.
      originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
    };
  }
  return definition;
}

function serializer(type: protobuf.Type): (value: object) => Buffer {
  return (value) => {
    if (value instanceof EncodedMessage) return value.bytes;
    if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${type.name} structure, got array instead`);
    return type.encode(type.fromObject(value)).finish() as Buffer;
  };
}

function deserializer(type: protobuf.Type): (bytes: Buffer) => object {
  return (bytes) => type.toObject(type.decode(bytes), CONVERSION);
}

const types = new Map<string, protobuf.Type>();

/** The reflection of message `name` of package pisched.v1. Kept: a lookup walks the namespace each time (a few µs), and the dispatcher encodes each task apart. */
export function messageType(name: string): protobuf.Type {
  let type = types.get(name);
  if (!type) {
    type = protoRoot().lookupType(`pisched.v1.${name}`);
    types.set(name, type);
  }
  return type;
}

/** Binary encoding of a proto message given as a plain object, e.g. a Command for the log. */
export function encodeMessage(name: string, value: object): Uint8Array {
  const type = messageType(name);
  return type.encode(type.fromObject(value)).finish();
}

/**
 * encodeMessage's bytes, and the value as decodeMessage gives it back from them, made from the
 * message encodeMessage builds anyway instead of by decoding. The same as decoding as long as
 * every string in value is well-formed UTF-16 (a lone surrogate does not survive UTF-8) and value
 * holds no bytes field (decoding gives a Buffer where this keeps what value held).
 */
export function encodeAndDecoded<T>(name: string, value: object): { bytes: Uint8Array; decoded: T } {
  const type = messageType(name);
  const message = type.fromObject(value);
  return { bytes: type.encode(message).finish(), decoded: type.toObject(message, CONVERSION) as T };
}

/** The inverse of encodeMessage, yielding the `__Output` shape of the type. */
export function decodeMessage<T>(name: string, bytes: Uint8Array): T {
  const type = messageType(name);
  return type.toObject(type.decode(bytes), CONVERSION) as T;
}
