import * as https from 'node:https';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readIdentity, type TlsIdentity } from '@pisched/api';
import { Cluster, cli, cliJson, freePort, startScheduler, tempDir, uniqueName, waitFor, type SchedulerHandle } from './harness';

const LEADING = 'leading: running orchestration';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** HTTPS to a dashboard, verified as a browser that trusts the cluster CA would: the chain, and the address dialled. */
function request(address: string, pathname: string, options: { ca: string; cookie?: string; client?: TlsIdentity; method?: string; body?: unknown; csrf?: string; firstChunk?: boolean }): Promise<Answer> {
  const [host, port] = address.split(':');
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host, port: Number(port), path: pathname, method: options.method ?? 'GET', ca: options.ca,
        cert: options.client?.certPem, key: options.client?.keyPem,
        headers: {
          ...(options.cookie ? { cookie: options.cookie } : {}),
          ...(payload ? { 'content-type': 'application/json', 'x-csrf-token': options.csrf ?? '' } : {}),
        },
      },
      (response) => {
        let body = '';
        response.on('data', (chunk) => {
          body += chunk;
          // A server-sent stream never ends: its first view is enough.
          if (options.firstChunk && body.includes('event: view')) {
            response.destroy();
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
          }
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function sessionCookie(answer: Answer): string {
  const set = ([] as string[]).concat(answer.headers['set-cookie'] ?? []);
  const cookie = set.find((line) => line.startsWith('pisched_session='));
  if (!cookie) throw new Error(`no session cookie (HTTP ${answer.status}: ${answer.body})`);
  return cookie.split(';')[0];
}

/**
 * The dashboard on a cluster of three schedulers (no agents, no Docker):
 * a login made through one member opens a session on another and then on no
 * member at all; actions on a follower's dashboard reach the leader; an admin
 * client certificate opens a session by itself.
 */
describe('the dashboard on every member of a cluster', () => {
  const cluster = new Cluster();
  const subnet = `127.0.${100 + Math.floor(Math.random() * 150)}`;
  const ids = ['s1', 's2', 's3'];
  const hosts = ids.map((_, i) => `${subnet}.${i + 1}`);
  const members = new Map<string, SchedulerHandle>();
  const dashboards = new Map<string, string>();
  const service = uniqueName('dm');
  let admin: TlsIdentity;
  let leader = '';

  beforeAll(async () => {
    const port = await freePort(hosts[0]);
    const dashboardPort = await freePort(hosts[0]);
    const peers = ids.map((id, i) => `${id}=${hosts[i]}:${port}`).join(',');
    await Promise.all(
      ids.map(async (id, i) => {
        dashboards.set(id, `${hosts[i]}:${dashboardPort}`);
        const handle = await startScheduler({ host: hosts[i], port, dataDir: tempDir(`dm-${id}`), extraArgs: ['--id', id, '--peers', peers, '--dashboard-addr', dashboards.get(id)!] });
        cluster.track(handle.daemon);
        cluster.dirs.push(handle.dataDir);
        members.set(id, handle);
      }),
    );
    leader = await waitFor(() => ids.find((id) => members.get(id)!.daemon.output.includes(LEADING)), 15_000, 'a leader');
    admin = readIdentity(path.join(members.get('s1')!.dataDir, 'admin'), 'admin')!;
    // Members of a new cluster serve their own certificate until the first leader stores the CA, then one naming their address.
    for (const id of ids) {
      await waitFor(async () => (await request(dashboards.get(id)!, '/api/session', { ca: admin.caPem })).status === 401, 15_000, `${id}'s dashboard to serve a certificate naming its address`);
    }
  }, 90_000);

  afterAll(async () => {
    await cluster.stop();
  });

  it('a login made through one member opens a session on another, once in the whole cluster', async () => {
    const [first, second] = ids.filter((id) => id !== leader);
    const printed = await cli(members.get(first)!.address, ['dashboard']);
    expect(printed.code, printed.stderr).toBe(0);
    const url = new URL(printed.stdout.trim());
    // The login was written on the leader, which names its own dashboard.
    expect(url.host).toBe(dashboards.get(leader));
    const login = `${url.pathname}${url.search}`;
    const opened = await request(dashboards.get(second)!, login, { ca: admin.caPem });
    expect(opened.status).toBe(200);
    const cookie = sessionCookie(opened);
    for (const id of ids) {
      const again = await request(dashboards.get(id)!, login, { ca: admin.caPem });
      expect(again.status, `reused on ${id}`).toBe(401);
      expect(again.body).toContain('already used');
    }
    // The session is the member's own: another member does not know it.
    expect((await request(dashboards.get(first)!, '/api/session', { ca: admin.caPem, cookie })).status).toBe(401);

    const stream = await request(dashboards.get(second)!, '/api/events', { ca: admin.caPem, cookie, firstChunk: true });
    expect(stream.headers['content-type']).toBe('text/event-stream');
    const view = JSON.parse(stream.body.split('event: view\ndata: ')[1].split('\n')[0]);
    expect(view).toMatchObject({ self: second, leader });
    expect(view.members.map((m: { id: string }) => m.id).sort()).toEqual(ids);

    // An action on a follower's dashboard is forwarded to the leader like a CLI call.
    const run = await cli(members.get(first)!.address, ['run', '--name', service, '--replicas', '1', '--detach', 'pisched-test/busybox:latest']);
    expect(run.code, run.stderr).toBe(0);
    const { csrf } = JSON.parse((await request(dashboards.get(second)!, '/api/session', { ca: admin.caPem, cookie })).body);
    const scaled = await request(dashboards.get(second)!, `/api/services/${service}/scale`, { ca: admin.caPem, cookie, method: 'POST', body: { replicas: 2 }, csrf });
    expect(scaled).toMatchObject({ status: 200 });
    expect(JSON.parse(scaled.body)).toEqual({ message: `${service} scaled to 2` });
    const ls = await cliJson<{ name: string; replicas: { desired: number } }[]>(members.get(leader)!.address, ['ls']);
    expect(ls.find((row) => row.name === service)?.replicas.desired).toBe(2);
  });

  it('an admin client certificate opens a session by itself; without one or a login, everything is 401', async () => {
    const dashboard = dashboards.get(ids[2])!;
    const withCert = await request(dashboard, '/', { ca: admin.caPem, client: admin });
    expect(withCert.status).toBe(200);
    expect(withCert.body).toContain('<title>pisched</title>');
    expect(sessionCookie(withCert)).toMatch(/^pisched_session=/);
    for (const pathname of ['/', '/app.js', '/api/session', '/api/events']) {
      expect((await request(dashboard, pathname, { ca: admin.caPem })).status, pathname).toBe(401);
    }
    expect((await request(dashboard, '/login?token=forged.token', { ca: admin.caPem })).status).toBe(401);
  });
});
