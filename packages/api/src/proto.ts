import * as grpc from '@grpc/grpc-js';
import type * as protobuf from 'protobufjs';
import type { ProtoGrpcType as ControlProto } from './gen/control';
import type { ProtoGrpcType as DispatcherProto } from './gen/dispatcher';
// proto/ parsed at build time (gen-descriptor.js): no .proto text is parsed at a start.
import { descriptor } from './gen/descriptor';
import { CONVERSION, methodDefinition, type MessageCodec } from './grpc-method';

export { CONVERSION };

type Services = Pick<(ControlProto & DispatcherProto)['pisched']['v1'], 'Control' | 'Dispatcher'>;

let root: protobuf.Root | undefined;

/**
 * The descriptor as protobufjs reflection. Not Root.fromJSON: its resolveAll
 * resolves every field of every message up front, when a command encodes a
 * handful; a type resolves its own fields when first used (Type.setup).
 */
function protoRoot(): protobuf.Root {
  if (!root) {
    // Loaded here, at the first use, not with this module: the agent speaks
    // through the codecs generated from proto/ (agent-services.ts) and never
    // needs protobufjs's reflection nor the descriptor it is built from.
    const { Root } = require('protobufjs') as typeof import('protobufjs');
    const json = descriptor() as protobuf.INamespace;
    root = new Root();
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
      'pisched.v1.Control': serviceMethods('pisched.v1.Control'),
      'pisched.v1.Dispatcher': serviceMethods('pisched.v1.Dispatcher'),
    }) as unknown as { pisched: { v1: Services } }
  ).pisched.v1;
  return services;
}

const methods = new Map<string, grpc.ServiceDefinition>();

/**
 * A service's method definitions (paths and codecs), made once: what loadGrpc
 * gives grpc-js, for a client that frames its calls itself (the CLI's unary
 * calls), without loading grpc-js.
 */
export function serviceMethods(fullName: 'pisched.v1.Control' | 'pisched.v1.Dispatcher'): grpc.ServiceDefinition {
  let definition = methods.get(fullName);
  if (!definition) {
    definition = serviceDefinition(fullName);
    methods.set(fullName, definition);
  }
  return definition;
}

/** What proto-loader makes for a service, less the reflection data (test/proto-services.test.ts compares them). */
export function serviceDefinition(fullName: string): grpc.ServiceDefinition {
  const service = protoRoot().lookupService(fullName);
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const shape = { service: fullName, name: method.name, requestStream: !!method.requestStream, responseStream: !!method.responseStream };
    definition[method.name] = methodDefinition(shape, reflectedCodec(method.resolvedRequestType!), reflectedCodec(method.resolvedResponseType!));
  }
  return definition;
}

function reflectedCodec(type: protobuf.Type): MessageCodec & { name: string } {
  return {
    name: type.name,
    encode: (value) => type.encode(type.fromObject(value)).finish(),
    decode: (bytes) => type.toObject(type.decode(bytes), CONVERSION),
  };
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
