/**
 * An answer serialized ahead of time, with the value it encodes: the gRPC
 * serializers send its bytes as they are, and in-process callers take the
 * value. For answers too large to encode within one event-loop turn, which
 * grpc-js would otherwise encode in one go as the handler answers.
 */
export class EncodedMessage {
  constructor(
    readonly bytes: Buffer,
    readonly value: object,
  ) {}
}
