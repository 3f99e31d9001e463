import { readdir, readFile } from "node:fs/promises";

/** Process facts from /proc, for tests and benchmarks that check what runs and what it costs. */

const CLOCK_TICKS_PER_SECOND = 100;

async function statFields(pid: number | string): Promise<string[]> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // The command name in parentheses may hold spaces; the fields after it are fixed.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Direct children of a process, optionally only those whose command line contains `matching`. */
export async function childPids(parent: number, matching?: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number((await statFields(entry))[1]) !== parent) continue;
    const cmdline = matching ? await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "") : "";
    if (!matching || cmdline.includes(matching)) pids.push(Number(entry));
  }
  return pids;
}

/** Every process whose command line contains `text`, whoever its parent (orphans included). */
export async function pidsMatching(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(text)) pids.push(Number(entry));
  }
  return pids;
}

/** CPU seconds (user + system) a process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const fields = await statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

export function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A pid a test is about to signal. Never 0 in its place: process.kill(0, …) signals the whole process
 * group, the test runner included.
 */
export function requiredPid(pid: number | undefined): number {
  if (pid === undefined || pid <= 0) throw new Error(`expected a process id, got ${pid}`);
  return pid;
}
