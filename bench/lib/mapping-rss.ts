import * as fs from 'node:fs';

/** A process's resident pages by kind of mapping, from /proc/PID/smaps, in bytes. */
export interface MappingRss {
  /** The node executable's code (r-xp), its read-only data (r--p) and its writable data. */
  nodeCode: number;
  nodeRodata: number;
  nodeData: number;
  /** Shared libraries and other files. */
  otherFiles: number;
  /** malloc's main heap ([heap]). */
  mallocHeap: number;
  /** Anonymous mappings: V8's heap pages, malloc's mmapped blocks and arenas, thread stacks. */
  anonymous: number;
}

/** Where a process's RSS is, mapping by mapping (issue #17: what the agent adds to a bare node). */
export function mappingRss(pid: number, executable = fs.realpathSync(process.execPath)): MappingRss {
  const out: MappingRss = { nodeCode: 0, nodeRodata: 0, nodeData: 0, otherFiles: 0, mallocHeap: 0, anonymous: 0 };
  let kind: keyof MappingRss = 'anonymous';
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S{4}) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      const [, perms, file] = header;
      if (file === executable) kind = perms!.includes('x') ? 'nodeCode' : perms!.includes('w') ? 'nodeData' : 'nodeRodata';
      else if (file === '[heap]') kind = 'mallocHeap';
      else if (file!.startsWith('/')) kind = 'otherFiles';
      else kind = 'anonymous';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss) out[kind] += Number(rss[1]) * 1024;
  }
  return out;
}
