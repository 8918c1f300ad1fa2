import * as https from 'node:https';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RenewableIdentity, createClusterCa, issueIdentity, peerIdentity, type TlsIdentity } from '@pisched/api';
import { ImageServer, REFUSAL_HEADER } from '../src/images/image-server';
import type { ImageEngine } from '../src/images/image-engine';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const IMAGE = `sha256:${'a'.repeat(64)}`;

/** GET of an image from the server as `client`, over mutual TLS: the status and the refusal's one line. */
function fetchAs(client: TlsIdentity, port: number, path = `/v1/images/${IMAGE}?os=linux&arch=arm64`): Promise<{ status: number; refusal: string; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      { host: '127.0.0.1', port, path, ca: client.caPem, cert: client.certPem, key: client.keyPem, checkServerIdentity: () => undefined },
      (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += String(chunk)));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, refusal: decodeURIComponent(String(response.headers[REFUSAL_HEADER] ?? '')), body }));
      },
    );
    request.on('error', reject);
  });
}

describe('the image server', () => {
  it('refuses a node whose certificate was revoked (node rm), though the certificate has not expired', async () => {
    const ca = await createClusterCa();
    const engine = { inspect: async () => undefined } as unknown as ImageEngine;
    const server = new ImageServer({ engine, identity: new RenewableIdentity(await issueIdentity(ca, 'pi-source', 'worker')), maxTransfers: 2, nodeId: 'pi-source', log: pino({ level: 'silent' }) });
    await server.listen(0, '127.0.0.1');
    cleanups.push(() => server.close());
    const kept = await issueIdentity(ca, 'pi-kept', 'worker');
    const removed = await issueIdentity(ca, 'pi-removed', 'worker');
    // Closed until a session has said what is revoked; then asked of the engine, which does not hold it.
    expect((await fetchAs(kept, server.port)).status).toBe(503);
    server.setRevocations({ revoked: [], recordedSerials: [] });
    expect((await fetchAs(removed, server.port)).status).toBe(404);
    server.setRevocations({ revoked: [{ nodeId: 'pi-removed', role: 'worker', serial: peerIdentity(removed.certPem)!.serial, notAfterMs: Date.now() + 60_000, revokedAtMs: Date.now() }], recordedSerials: [] });
    expect(await fetchAs(removed, server.port)).toMatchObject({ status: 403, refusal: 'the certificate of pi-removed was revoked: it may fetch no images' });
    expect((await fetchAs(kept, server.port)).status).toBe(404);
  });

  it('lists an image\'s layers, and refuses to leave out more layers than it has', async () => {
    const ca = await createClusterCa();
    const layers = [`sha256:${'1'.repeat(64)}`, `sha256:${'2'.repeat(64)}`];
    const engine = { inspect: async () => ({ id: IMAGE, platform: { os: 'linux', architecture: 'arm64' }, sizeBytes: 10, layers }) } as unknown as ImageEngine;
    const server = new ImageServer({ engine, identity: new RenewableIdentity(await issueIdentity(ca, 'pi-source', 'worker')), maxTransfers: 2, nodeId: 'pi-source', log: pino({ level: 'silent' }) });
    await server.listen(0, '127.0.0.1');
    cleanups.push(() => server.close());
    server.setRevocations({ revoked: [], recordedSerials: [] });
    const client = await issueIdentity(ca, 'pi-client', 'worker');
    expect(await fetchAs(client, server.port, `/v1/images/${IMAGE}/layers?os=linux&arch=arm64`)).toMatchObject({ status: 200, body: JSON.stringify({ layers }) });
    expect(await fetchAs(client, server.port, `/v1/images/${IMAGE}/layers?os=linux&arch=amd64`)).toMatchObject({ status: 409 });
    for (const skip of ['3', '-1', 'x']) {
      expect(await fetchAs(client, server.port, `/v1/images/${IMAGE}?os=linux&arch=arm64&skip=${skip}`)).toMatchObject({ status: 400, refusal: `bad skip "${skip}": image ${'a'.repeat(12)} has 2 layers` });
    }
  });
});
