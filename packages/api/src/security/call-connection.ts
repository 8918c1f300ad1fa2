/**
 * The HTTP/2 session (one TLS connection) a server call of grpc-js arrived
 * on, or undefined when it cannot be told (another grpc-js, server
 * interceptors, an in-process call). grpc-js shows it to no public API; its
 * server calls hold the intercepting call as `call`, and the base of that
 * chain holds the HTTP/2 stream, whose `session` is the connection.
 */
export function callConnection(call: object): object | undefined {
  const session = (call as { call?: { stream?: { session?: unknown } } }).call?.stream?.session;
  return typeof session === 'object' && session !== null ? session : undefined;
}
