import { describe, expect, it } from 'vitest';
import { parsePeers } from '../src/cluster/peers';

describe('parsePeers', () => {
  it('numbers members by sorted id, whatever the order given, and puts Raft on the next port', () => {
    const a = parsePeers('s2=127.0.1.2:7700,s1=127.0.1.1:7700,s3=127.0.1.3:7700');
    const b = parsePeers('s1=127.0.1.1:7700,s3=127.0.1.3:7700,s2=127.0.1.2:7700');
    const ids = (peers: typeof a) => Object.fromEntries(peers.map((peer) => [peer.id, peer.raftId]));
    expect(ids(a)).toEqual({ s1: 1, s2: 2, s3: 3 });
    expect(ids(b)).toEqual(ids(a));
    expect(a.find((peer) => peer.id === 's2')).toEqual({ id: 's2', raftId: 2, address: '127.0.1.2:7700', raftAddress: '127.0.1.2:7701' });
  });

  it('refuses malformed members and duplicate ids', () => {
    expect(() => parsePeers('s1=127.0.1.1')).toThrow(/not ID=HOST:PORT/);
    expect(() => parsePeers('s1=127.0.1.1:7700,s1=127.0.1.2:7700')).toThrow(/appears twice/);
    expect(() => parsePeers('s1=127.0.1.1:65535')).toThrow(/out of range/);
  });
});
