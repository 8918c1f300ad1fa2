import * as grpc from '@grpc/grpc-js';
// Written by gen-codecs.js from proto/ at build: protobufjs's generated code for the agent's messages.
import { CODECS, METHODS } from './gen/codecs';
import { methodDefinition, type MessageCodec } from './grpc-method';

/**
 * A generated entry of gen/codecs.ts for one message type: protobufjs's
 * functions to encode, only for what the agent sends; a decoder straight to
 * the plain object (CONVERSION's), only for what it receives.
 */
interface GeneratedType {
  ctor?: unknown;
  fromObject?(value: object): object;
  encode?(message: object): { finish(): Uint8Array };
  decode?(bytes: Uint8Array): object;
}

const generated = CODECS as Record<string, GeneratedType>;

/**
 * Message `fullName` (e.g. pisched.v1.AgentMessage) encoded and decoded by
 * the generated code: the same bytes and objects as protobufjs's reflection
 * (proto.ts) gives, without loading that reflection or the descriptor.
 */
export function generatedCodec(fullName: string): MessageCodec & { name: string } {
  const type = generated[fullName];
  if (!type?.encode && !type?.decode) throw new Error(`no code is generated for message ${fullName} (packages/api/gen-codecs.js)`);
  const missing = (what: string) => () => {
    throw new Error(`no code is generated to ${what} message ${fullName}: the agent does not (packages/api/gen-codecs.js)`);
  };
  const { fromObject, encode, decode } = type;
  return {
    name: fullName.slice(fullName.lastIndexOf('.') + 1),
    // Called as methods: the generated code reaches its own entry as `this` (this.ctor).
    encode: fromObject && encode ? (value) => type.encode!(type.fromObject!(value)).finish() : missing('encode'),
    decode: decode ? (bytes) => type.decode!(bytes) : missing('decode'),
  };
}

interface AgentServices {
  Dispatcher: grpc.ServiceClientConstructor;
  /** Only the Control calls an agent makes: IssueNodeCertificate (joining) and RenewNodeCertificate. */
  Control: grpc.ServiceClientConstructor;
}

let services: AgentServices | undefined;

/**
 * The gRPC clients an agent uses (gen-codecs.js names their methods), on the
 * generated codecs: an agent holds no reflection of the whole API package
 * (#17, the idle agent's memory). The scheduler and the CLI use loadGrpc().
 */
export function agentGrpc(): AgentServices {
  if (!services) {
    const definitions: Record<string, grpc.ServiceDefinition> = {};
    for (const method of METHODS) {
      definitions[method.service] ??= {};
      (definitions[method.service] as Record<string, grpc.MethodDefinition<object, object>>)[method.name] = methodDefinition(
        method,
        generatedCodec(method.requestType),
        generatedCodec(method.responseType),
      );
    }
    services = (grpc.loadPackageDefinition(definitions) as unknown as { pisched: { v1: AgentServices } }).pisched.v1;
  }
  return services;
}
