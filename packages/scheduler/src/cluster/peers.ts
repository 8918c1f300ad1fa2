/** One scheduler member as named on the command line. */
export interface Peer {
  /** The member's name, e.g. s1. */
  id: string;
  /**
   * Raft's numeric id. For the members of --peers, the position in the names
   * sorted, so every member derives the same ids whatever the flag's order;
   * a member that joins later gets the next id never used (see MemberRegistry).
   */
  raftId: number;
  /** host:port for the CLI and the agents. */
  address: string;
  /** host:port of the member's Raft transport: the same host, the next port. */
  raftAddress: string;
}

/** What a member id may contain: it shows in flags, logs and file names. */
export const MEMBER_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** A member listening on host:port for the CLI and agents, and on the next port for Raft. */
export function memberAt(id: string, raftId: number, host: string, port: number): Peer {
  return { id, raftId, address: `${host}:${port}`, raftAddress: `${host}:${port + 1}` };
}

/** Parses `s1=127.0.1.1:7700,s2=127.0.1.2:7700,…`; throws with a message for a person. */
export function parsePeers(value: string): Peer[] {
  const pairs = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const match = /^([^=]+)=(.+):(\d+)$/.exec(part);
      if (!match || !MEMBER_ID.test(match[1])) throw new Error(`--peers: "${part}" is not ID=HOST:PORT`);
      const [, id, host, portText] = match;
      const port = Number(portText);
      if (port < 1 || port > 65534) throw new Error(`--peers: port ${portText} of ${id} is out of range`);
      return { id, host, port };
    });
  const ids = new Set(pairs.map((pair) => pair.id));
  if (ids.size !== pairs.length) throw new Error('--peers: a member id appears twice');
  const sorted = [...ids].sort();
  return pairs.map(({ id, host, port }) => memberAt(id, sorted.indexOf(id) + 1, host, port));
}
