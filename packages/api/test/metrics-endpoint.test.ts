import * as http from 'node:http';
import * as https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterCa, issueCertificate, type ClusterCa } from '../src/security/cluster-ca';
import { createNodeKeyRequest } from '../src/security/node-key';
import type { TlsIdentity } from '../src/security/grpc-credentials';
import { RenewableIdentity } from '../src/security/renewable-identity';
import { isLoopbackHost, startMetricsEndpoint, type MetricsEndpoint } from '../src/security/metrics-endpoint';

async function identity(ca: ClusterCa, nodeId: string, role: 'worker' | 'admin' | 'manager'): Promise<TlsIdentity> {
  const { keyPem, csrPem } = await createNodeKeyRequest(nodeId);
  return { caPem: ca.certPem, keyPem, certPem: await issueCertificate(ca, { csrPem, nodeId, role }) };
}

const source = { contentType: 'text/plain; version=0.0.4', render: async () => 'up 1\n' };

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function getTls(port: number, ca: string, client?: TlsIdentity): Promise<string> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: '/metrics', agent: false, ca, cert: client?.certPem, key: client?.keyPem, checkServerIdentity: () => undefined }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('isLoopbackHost', () => {
  it('knows loopback from the rest', () => {
    for (const host of ['127.0.0.1', '127.3.2.1', 'localhost', '[::1]', '::1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '192.168.1.10', '[::]', 'pi1.local', '128.0.0.1']) expect(isLoopbackHost(host), host).toBe(false);
  });
});

describe('startMetricsEndpoint', () => {
  let ca: ClusterCa;
  let other: ClusterCa;
  let daemon: TlsIdentity;
  const open: MetricsEndpoint[] = [];

  beforeAll(async () => {
    ca = await createClusterCa();
    other = await createClusterCa();
    daemon = await identity(ca, 'pi1', 'worker');
  });
  afterAll(async () => {
    for (const endpoint of open) await endpoint.close();
  });

  it('serves plain HTTP on loopback, /metrics only', async () => {
    const endpoint = await startMetricsEndpoint('127.0.0.1:0', source, undefined);
    open.push(endpoint);
    expect(endpoint.scheme).toBe('http');
    expect(await get(`http://${endpoint.address}/metrics`)).toEqual({ status: 200, body: 'up 1\n' });
    expect((await get(`http://${endpoint.address}/`)).status).toBe(404);
  });

  it('refuses a non-loopback address without TLS material, in one line', async () => {
    await expect(startMetricsEndpoint('0.0.0.0:0', source, undefined)).rejects.toThrow(
      /^--metrics-addr 0\.0\.0\.0:0 is not a loopback address and this daemon has no TLS material/,
    );
  });

  it('off loopback serves HTTPS only to a client certificate of the cluster CA, following renewals', async () => {
    const renewable = new RenewableIdentity(daemon);
    const endpoint = await startMetricsEndpoint('0.0.0.0:0', source, renewable);
    open.push(endpoint);
    expect(endpoint.scheme).toBe('https');
    const port = Number(endpoint.address.split(':').at(-1));
    const admin = await identity(ca, 'admin', 'admin');
    expect(await getTls(port, ca.certPem, admin)).toBe('up 1\n');
    await expect(getTls(port, ca.certPem)).rejects.toThrow();
    await expect(getTls(port, ca.certPem, await identity(other, 'admin', 'admin'))).rejects.toThrow();
    await expect(get(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    // What replaces the identity is served from the next connection on (another CA here, so the switch shows).
    renewable.replace(await identity(other, 'pi1', 'worker'));
    await expect(getTls(port, ca.certPem, admin)).rejects.toThrow();
    expect(await getTls(port, other.certPem, await identity(other, 'admin', 'admin'))).toBe('up 1\n');
  });
});
