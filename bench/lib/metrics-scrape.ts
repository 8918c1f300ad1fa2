/** One scrape of a member's Prometheus text: each sample's value by its full series name (`name{labels}`). */
export async function scrape(address: string): Promise<Map<string, number>> {
  const response = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`metrics at ${address}: HTTP ${response.status}`);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The sum of every series of a metric whose labels contain all of `match` (e.g. 'state="running"'). */
export function total(samples: Map<string, number>, name: string, ...match: string[]): number {
  let sum = 0;
  for (const [series, value] of samples) {
    if (series !== name && !series.startsWith(`${name}{`)) continue;
    if (match.every((part) => series.includes(part))) sum += value;
  }
  return sum;
}
