import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildAnswer, parseQuery, RCODE_NXDOMAIN, RCODE_OK, RCODE_SERVFAIL, TYPE_A, TYPE_AAAA } from '../src/discovery/dns-message';
import { DnsServer, resolvConfNameservers, splitHostPort } from '../src/discovery/dns-server';
import { namedServices, resolveName, serviceKey, taskKey } from '../src/discovery/service-names';

/** A query as resolvers write it: id, RD set, one question. */
function query(name: string, type = TYPE_A, id = 0x1234): Buffer {
  const labels = name.split('.').flatMap((label) => [Buffer.from([label.length]), Buffer.from(label, 'latin1')]);
  const header = Buffer.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  const tail = Buffer.from([0, type >> 8, type & 255, 0, 1]);
  return Buffer.concat([header, ...labels, tail]);
}

/** Reads back what the codec wrote: rcode and the A records' addresses. */
function readAnswer(message: Buffer): { id: number; rcode: number; aa: boolean; addresses: string[] } {
  const count = message.readUInt16BE(6);
  let offset = 12;
  while (message[offset] !== 0) offset += message[offset]! + 1;
  offset += 5;
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    expect(message.readUInt16BE(offset)).toBe(0xc00c);
    expect(message.readUInt16BE(offset + 2)).toBe(TYPE_A);
    addresses.push([...message.subarray(offset + 12, offset + 16)].join('.'));
    offset += 16;
  }
  const flags = message.readUInt16BE(2);
  return { id: message.readUInt16BE(0), rcode: flags & 0xf, aa: (flags & 0x0400) !== 0, addresses };
}

const services = [
  { name: 'web', networks: ['front'], endpointMode: 'vip', vip: '198.18.0.2', taskAddresses: ['198.18.0.3', '198.18.0.4'] },
  { name: 'db', networks: ['back'], endpointMode: 'dnsrr', vip: '', taskAddresses: ['198.18.0.6'] },
];

describe('the DNS codec', () => {
  it('reads a query\'s name (lower case), type, id and recursion flag', () => {
    const parsed = parseQuery(query('Tasks.WEB', TYPE_AAAA, 7))!;
    expect(parsed).toMatchObject({ id: 7, name: 'tasks.web', type: TYPE_AAAA, rd: true, opcode: 0 });
  });

  it('refuses answers, truncated messages and labels running past the end', () => {
    const answer = buildAnswer(parseQuery(query('web'))!, RCODE_OK, ['1.2.3.4']);
    expect(parseQuery(answer)).toBeUndefined();
    expect(parseQuery(query('web').subarray(0, 14))).toBeUndefined();
    const bad = query('web');
    bad[12] = 60;
    expect(parseQuery(bad)).toBeUndefined();
    expect(parseQuery(Buffer.alloc(5))).toBeUndefined();
  });

  it('writes A records pointing at the question, with the query\'s id and the rcode', () => {
    const parsed = parseQuery(query('web', TYPE_A, 0xbeef))!;
    expect(readAnswer(buildAnswer(parsed, RCODE_OK, ['198.18.0.3', '198.18.0.4']))).toEqual({ id: 0xbeef, rcode: 0, aa: true, addresses: ['198.18.0.3', '198.18.0.4'] });
    expect(readAnswer(buildAnswer(parsed, RCODE_NXDOMAIN))).toMatchObject({ rcode: RCODE_NXDOMAIN, addresses: [] });
  });
});

describe('service names', () => {
  it('resolves NAME to the VIP, tasks.NAME to the tasks, and dnsrr NAME to the tasks', () => {
    expect(resolveName(services, ['front'], 'web')).toEqual({ known: true, addresses: ['198.18.0.2'] });
    expect(resolveName(services, ['front'], 'tasks.web')).toEqual({ known: true, addresses: ['198.18.0.3', '198.18.0.4'] });
    expect(resolveName(services, ['back'], 'db')).toEqual({ known: true, addresses: ['198.18.0.6'] });
  });

  it('does not resolve a service of another network', () => {
    expect(resolveName(services, ['back'], 'web')).toEqual({ known: false });
    expect(resolveName(services, [], 'db')).toEqual({ known: false });
  });

  it('takes the table\'s services on networks, with the addresses handed out here', () => {
    const table = [
      { serviceId: 's1', serviceName: 'web', ports: [], networks: ['front'], endpointMode: 'vip', vipPorts: [], preferLocal: false, aliases: ['www'], backends: [{ taskId: 't1', nodeId: 'n', address: '127.0.0.1', ports: [] }] },
      { serviceId: 's2', serviceName: 'public', ports: [], networks: [], endpointMode: 'vip', vipPorts: [], preferLocal: false, aliases: [], backends: [] },
    ];
    const addresses: Record<string, string> = { [serviceKey('s1')]: '198.18.0.2', [taskKey('t1')]: '198.18.0.3' };
    const named = namedServices(table, (key) => addresses[key]);
    expect(named).toEqual([{ name: 'web', aliases: ['www'], networks: ['front'], endpointMode: 'vip', vip: '198.18.0.2', taskAddresses: ['198.18.0.3'] }]);
    // An alias (a stack service's Compose key) resolves as the name does.
    expect(resolveName(named, ['front'], 'www')).toEqual({ known: true, addresses: ['198.18.0.2'] });
    expect(resolveName(named, ['front'], 'tasks.www')).toEqual({ known: true, addresses: ['198.18.0.3'] });
  });
});

describe('the DNS server', () => {
  const log = pino({ level: 'silent' });
  const ask = async (server: DnsServer, name: string, type = TYPE_A) => {
    const replies: Buffer[] = [];
    await server.answer(query(name, type), (reply) => replies.push(reply), '172.18.0.5');
    return replies.map(readAnswer);
  };
  const server = (upstreams: string[] = []) => new DnsServer(async (asker, name) => resolveName(services, asker === '172.18.0.5' ? ['front'] : [], name), upstreams, log);

  it('answers its names: A records, and an empty NOERROR for AAAA', async () => {
    const dns = server();
    expect(await ask(dns, 'web')).toEqual([{ id: 0x1234, rcode: RCODE_OK, aa: true, addresses: ['198.18.0.2'] }]);
    expect(await ask(dns, 'web', TYPE_AAAA)).toEqual([{ id: 0x1234, rcode: RCODE_OK, aa: true, addresses: [] }]);
  });

  it('says NXDOMAIN at once to bare names and tasks.X that are not its own, and SERVFAIL with no upstream', async () => {
    const dns = server();
    expect((await ask(dns, 'db'))[0]!.rcode).toBe(RCODE_NXDOMAIN);
    expect((await ask(dns, 'tasks.db'))[0]!.rcode).toBe(RCODE_NXDOMAIN);
    expect((await ask(dns, 'example.org'))[0]!.rcode).toBe(RCODE_SERVFAIL);
  });

  it('reads the node\'s resolvers from resolv.conf and host[:port] upstreams', () => {
    expect(resolvConfNameservers('# x\nnameserver 10.0.0.53\nnameserver ::1\nsearch lan\n nameserver 127.0.0.53 \n')).toEqual(['10.0.0.53', '127.0.0.53']);
    expect(splitHostPort('127.0.0.1:5353')).toEqual(['127.0.0.1', 5353]);
    expect(splitHostPort('10.0.0.1')).toEqual(['10.0.0.1', 53]);
  });
});
