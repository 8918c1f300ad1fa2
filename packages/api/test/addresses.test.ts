import { describe, expect, it } from 'vitest';
import { parseAddressList, parseHostPort } from '../src/addresses';

describe('scheduler addresses', () => {
  it('takes host:port, a bare host (default port 7700) and lists', () => {
    expect(parseHostPort('127.0.1.1:7701')).toEqual({ host: '127.0.1.1', port: 7701 });
    expect(parseHostPort('pi-1')).toEqual({ host: 'pi-1', port: 7700 });
    expect(parseAddressList('127.0.0.1, 127.0.0.2:7702')).toEqual(['127.0.0.1:7700', '127.0.0.2:7702']);
  });

  it('refuses bad ports and shapes in one line', () => {
    expect(() => parseHostPort('host:99999')).toThrow('invalid address "host:99999": port must be 1-65535');
    expect(() => parseHostPort('host:0')).toThrow(/port must be 1-65535/);
    expect(parseHostPort('host:0', 7700, true).port).toBe(0);
    expect(() => parseHostPort('a b:1')).toThrow(/expected HOST:PORT/);
    expect(() => parseAddressList(' , ')).toThrow('no scheduler address given');
  });
});
