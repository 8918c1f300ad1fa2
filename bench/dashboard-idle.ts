// Benchmark (issue #16 item 4): what the web dashboard costs. The page's
// weight as served, its first contentful paint on loopback in Debian's
// chromium (fresh browser context each time), and the scheduler's CPU while
// idle: a window with nothing open, then a window with the dashboard open in
// the browser and /metrics scraped every 15 s. One agent and a two-replica
// service make the cluster realistic (heartbeats every second). Prints
// figures; asserts nothing about time.
// Run: npm run bench:dashboard   (BENCH_IDLE_S=60, BENCH_PAINTS=5)
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { Cluster, TEST_IMAGE, cli, dockerAvailable, freePort, uniqueName } from '../test/harness';

const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 60);
const PAINTS = Number(process.env.BENCH_PAINTS ?? 5);
const cluster = new Cluster();

afterAll(async () => {
  await cluster.stop();
});

/** CPU seconds (user + system) a process has used, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of stat; after "pid (comm) " they are the 12th and 13th.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function scrape(address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get(`http://${address}/metrics`, (response) => {
      response.resume();
      response.on('end', () => resolve());
    }).on('error', reject);
  });
}

async function idleShare(pid: number, seconds: number, during?: () => void): Promise<number> {
  const before = cpuSeconds(pid);
  const started = Date.now();
  during?.();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return (cpuSeconds(pid) - before) / ((Date.now() - started) / 1000);
}

it('dashboard: page weight, first paint on loopback, scheduler idle CPU with the page open', async () => {
  expect(await dockerAvailable()).toBe(true);
  const browserPath = path.join('/usr/bin', 'chromium');
  expect(fs.existsSync(browserPath), 'chromium missing: run scripts/ensure-chromium.sh').toBe(true);
  const dashboard = `127.0.0.1:${await freePort()}`;
  const metrics = `127.0.0.1:${await freePort()}`;
  cluster.startSchedulerArgs = ['--dashboard-addr', dashboard, '--metrics-addr', metrics];
  await cluster.start([uniqueName('bd')]);
  const service = uniqueName('bdsvc');
  expect((await cli(cluster.address, ['run', '--name', service, '--replicas', '2', '--memory', '32M', TEST_IMAGE])).code).toBe(0);
  const pid = cluster.scheduler.daemon.child.pid!;
  const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox', '--ignore-certificate-errors'] });
  try {
    const paints: number[] = [];
    let weight = 0;
    for (let i = 0; i < PAINTS; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      let bytes = 0;
      page.on('response', (response) => {
        if (!response.url().includes('/api/')) response.body().then((body) => (bytes += body.length), () => undefined);
      });
      await page.goto((await cli(cluster.address, ['dashboard'])).stdout.trim(), { waitUntil: 'commit' });
      await page.waitForURL(`https://${dashboard}/`);
      await page.locator(`[data-service="${service}"]`).waitFor();
      paints.push(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN));
      weight = Math.max(weight, bytes);
      await context.close();
    }
    paints.sort((a, b) => a - b);
    console.log(`page weight (HTML, JS and CSS as served, login page excluded): ${(weight / 1024).toFixed(1)} KiB`);
    console.log(`first contentful paint of / after login, loopback, ${PAINTS} fresh contexts: median ${paints[Math.floor(paints.length / 2)].toFixed(0)} ms (${paints.map((p) => p.toFixed(0)).join(', ')})`);

    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const quiet = await idleShare(pid, IDLE_S);
    console.log(`scheduler idle, nothing open: ${(quiet * 100).toFixed(2)} % of a core over ${IDLE_S} s`);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto((await cli(cluster.address, ['dashboard'])).stdout.trim(), { waitUntil: 'commit' });
    await page.locator(`[data-service="${service}"]`).waitFor();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    let scrapes: NodeJS.Timeout | undefined;
    const open = await idleShare(pid, IDLE_S, () => {
      void scrape(metrics);
      scrapes = setInterval(() => void scrape(metrics), 15_000);
    });
    clearInterval(scrapes);
    console.log(`scheduler idle, dashboard open and /metrics scraped every 15 s: ${(open * 100).toFixed(2)} % of a core over ${IDLE_S} s`);
    await context.close();
  } finally {
    await browser.close();
  }
});
