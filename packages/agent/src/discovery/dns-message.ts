/** The few DNS record types the agent answers itself. */
export const TYPE_A = 1;
export const TYPE_AAAA = 28;

export const RCODE_OK = 0;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;

/** One question of a query, as the agent's DNS server reads it. */
export interface DnsQuestion {
  id: number;
  /** Lower case, without the trailing dot. */
  name: string;
  type: number;
  /** Recursion desired, copied into the answer. */
  rd: boolean;
  /** The question section's bytes, copied into the answer as they came. */
  question: Buffer;
  opcode: number;
}

/** Reads a query with one question; undefined for anything else (an answer, compressed names, truncated bytes). */
export function parseQuery(message: Buffer): DnsQuestion | undefined {
  if (message.length < 12) return undefined;
  const flags = message.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // an answer, not a query
  if (message.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    if (offset >= message.length) return undefined;
    const length = message[offset]!;
    if (length === 0) break;
    if (length > 63 || offset + 1 + length > message.length) return undefined;
    labels.push(message.subarray(offset + 1, offset + 1 + length).toString('latin1'));
    offset += 1 + length;
  }
  if (offset + 5 > message.length) return undefined;
  const type = message.readUInt16BE(offset + 1);
  return {
    id: message.readUInt16BE(0),
    name: labels.join('.').toLowerCase(),
    type,
    rd: (flags & 0x0100) !== 0,
    question: message.subarray(12, offset + 5),
    opcode: (flags >> 11) & 0xf,
  };
}

/**
 * The answer to a query: A records for the addresses (each pointing back at
 * the question's name), or none with the rcode (NOERROR and none = the name
 * exists but has no record of that type).
 */
export function buildAnswer(query: DnsQuestion, rcode: number, addresses: readonly string[] = [], ttl = 5): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.id, 0);
  // QR, the query's opcode, AA (we own these names), RD as asked, RA.
  header.writeUInt16BE(0x8000 | (query.opcode << 11) | 0x0400 | (query.rd ? 0x0100 : 0) | 0x0080 | (rcode & 0xf), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((address) => {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // the name at offset 12: the question's
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(1, 4); // IN
    record.writeUInt32BE(ttl, 6);
    record.writeUInt16BE(4, 10);
    address.split('.').forEach((part, i) => record.writeUInt8(Number(part), 12 + i));
    return record;
  });
  return Buffer.concat([header, query.question, ...records]);
}

/** The same query's id in an upstream answer, so the answer can be matched and relayed. */
export function messageId(message: Buffer): number | undefined {
  return message.length >= 2 ? message.readUInt16BE(0) : undefined;
}
