import { describe, expect, it } from 'vitest';
import { createClusterCa } from '../src/security/cluster-ca';
import { caDigest, formatJoinToken, newJoinSecret, parseJoinToken, roleOfSecret } from '../src/security/join-token';

describe('join tokens', () => {
  it('carry the root CA digest and a random secret, and parse back', async () => {
    const ca = await createClusterCa();
    const secret = newJoinSecret();
    const token = formatJoinToken(ca.certPem, secret);
    expect(token).toMatch(/^PSCTKN-1-[0-9a-f]{64}-[0-9a-f]{48}$/);
    expect(parseJoinToken(token)).toEqual({ caDigest: caDigest(ca.certPem), secret });
    expect(parseJoinToken(`  ${token}\n`).secret).toBe(secret);
    expect(newJoinSecret()).not.toBe(secret);
  });

  it('a token for another CA names another digest', async () => {
    const ca = await createClusterCa();
    const other = await createClusterCa();
    const token = parseJoinToken(formatJoinToken(other.certPem, newJoinSecret()));
    expect(token.caDigest).not.toBe(caDigest(ca.certPem));
  });

  it('the secret tells the role; a wrong or rotated-away secret grants none', () => {
    const secrets = { worker: newJoinSecret(), manager: newJoinSecret() };
    expect(roleOfSecret(secrets.worker, secrets)).toBe('worker');
    expect(roleOfSecret(secrets.manager, secrets)).toBe('manager');
    expect(roleOfSecret(newJoinSecret(), secrets)).toBeUndefined();
    const old = secrets.worker;
    secrets.worker = newJoinSecret();
    expect(roleOfSecret(old, secrets)).toBeUndefined();
    expect(roleOfSecret('', { worker: '' })).toBeUndefined();
  });

  it('refuses a malformed token without repeating it', () => {
    const secretish = 'PSCTKN-1-abc-supersecretvalue';
    for (const bad of ['', 'hello', secretish, `SWMTKN-1-${'a'.repeat(64)}-${'b'.repeat(48)}`, `PSCTKN-2-${'a'.repeat(64)}-${'b'.repeat(48)}`]) {
      let message = '';
      try {
        parseJoinToken(bad);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/^the join token is malformed/);
      expect(message).not.toContain('supersecret');
      expect(message.split('\n')).toHaveLength(1);
    }
  });
});
