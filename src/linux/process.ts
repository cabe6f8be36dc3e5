// Facts about host processes from /proc.
import { readdir, readFile } from "node:fs/promises";

/**
 * True while the process exists and is not a zombie. kill(pid, 0) is not
 * enough: it succeeds on zombies, and a supervisor that double-forked is
 * reaped by whatever init the host runs, sometimes seconds later.
 */
export async function isAlive(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The state follows the command name, which is in parentheses and may contain spaces.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Reads a pid file; undefined when missing or not a pid. */
export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(path, "utf8")).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** Every descendant of `pid`, from /proc/<pid>/task/<tid>/children. */
export async function descendants(pid: number): Promise<number[]> {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    let tasks: string[];
    try {
      tasks = await readdir(`/proc/${parent}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      const text = await readFile(`/proc/${parent}/task/${tid}/children`, "utf8").catch(() => "");
      for (const child of text.split(" ").filter(Boolean).map(Number)) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

/** Every process's pid and argv, from /proc (processes that vanish meanwhile are skipped). */
export async function processes(): Promise<Array<{ pid: number; argv: string[] }>> {
  const out: Array<{ pid: number; argv: string[] }> = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (cmdline) out.push({ pid: Number(name), argv: cmdline.split("\0").filter((a, i, all) => a !== "" || i < all.length - 1) });
  }
  return out;
}
