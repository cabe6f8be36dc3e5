// The container's cgroup as the runtime made it (linux.cgroupsPath =
// /<parent>/<id>): its processes, a freezer (so that killing them all cannot
// race with a fork), limits and statistics. cgroup v1 (one hierarchy per
// controller, as on this machine) and v2 (one unified hierarchy) behind one
// interface.
import { readFile, readdir, readlink, rmdir, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { MEMORY_STATS_FIELDS, type CgroupDetail, type CpuStats, type Limits, type MemoryStats } from "../../core/interfaces/limits.js";
import { readMountInfo } from "../mountinfo.js";
import { named, parseBlkioV1, parseIoStat, readOrEmpty } from "./block-io.js";

export interface ContainerCgroups extends Omit<Limits, "watchOom"> {
  procs(id: string): Promise<number[]>;
  freeze(id: string): Promise<void>;
  thaw(id: string): Promise<void>;
  /** How many processes of the container the kernel has killed for memory. */
  oomKills(id: string): Promise<number>;
  /** Removes the parent cgroup in every hierarchy once it is empty. */
  removeParent(): Promise<void>;
  /** Names of the container cgroups under the parent, in any hierarchy. */
  ids(): Promise<string[]>;
  /** Kills what is left in a container's cgroup and removes it from every hierarchy. */
  remove(id: string): Promise<void>;
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/**
 * The v1 hierarchies under root: the cgroup file systems mounted there, not
 * any directory (another manager may leave plain ones on the tmpfs). A root
 * with none mounted (a test's) has its subdirectories.
 */
async function hierarchies(root: string): Promise<string[]> {
  const mounted = (await readMountInfo())
    .filter((m) => (m.fsType === "cgroup" || m.fsType === "cgroup2") && dirname(m.mountPoint) === root)
    .map((m) => basename(m.mountPoint));
  return mounted.length > 0 ? [...new Set(mounted)] : subdirs(root);
}

// Frozen, nothing forks away; killed, thawed so the kills land; then the
// directories go once the kernel has seen the processes die.
async function killAndRemove(cgroups: ContainerCgroups, id: string, dirs: string[]): Promise<void> {
  const pids = await cgroups.procs(id);
  if (pids.length > 0) {
    await cgroups.freeze(id).catch(() => {});
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    await cgroups.thaw(id).catch(() => {});
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    while ((await cgroups.procs(id)).length > 0 && Date.now() < deadline) await sleep(10);
  }
  for (const dir of dirs) await rmdirIfPresent(dir);
}

/** What v1 reports for "no limit" (PAGE_COUNTER_MAX pages); v2's "max" is reported as the same. */
export const NO_MEMORY_LIMIT = 9223372036854771712n;
const USER_HZ = 100n;
const NS_PER_TICK = 1_000_000_000n / USER_HZ;

type MemoryField = keyof MemoryStats;

/** memory.stat's key of a MemoryStats field (v1 names them so). */
export function memoryStatKey(field: MemoryField): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FREEZE_TIMEOUT_MS = 2000;

export function parseProcs(text: string): number[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => Number(l));
}

/** `key value` lines (memory.stat, cpu.stat, memory.events, cpuacct.stat). */
export function parseKeyed(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split("\n")) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) out.set(key, BigInt(value));
  }
  return out;
}

async function readProcs(file: string): Promise<number[]> {
  try {
    return parseProcs(await readFile(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

const readText = async (file: string) => (await readFile(file, "utf8")).trim();
const readNumber = async (file: string) => BigInt(await readText(file));
/** A number from a file that may be absent or "max" (then 0). */
const readOrZero = async (file: string): Promise<bigint> => {
  const text = await readText(file).catch(() => "0");
  return /^-?\d+$/.test(text) ? BigInt(text) : 0n;
};

/** The processes and threads of a cgroup, with their open files and sockets (as /proc tells them; one gone meanwhile counts nothing). */
async function census(procs: number[], threads: number): Promise<Pick<CgroupDetail, "processes" | "threads" | "fileDescriptors" | "sockets">> {
  let fileDescriptors = 0;
  let sockets = 0;
  for (const pid of procs) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    fileDescriptors += fds.length;
    for (const fd of fds) if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "")).startsWith("socket:")) sockets++;
  }
  return { processes: procs.length, threads, fileDescriptors, sockets };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function rmdirIfPresent(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
  }
}

/** cgroup v1: one hierarchy per controller under <root>/<controller>. */
export class CgroupsV1 implements ContainerCgroups {
  constructor(
    private readonly parent: string,
    private readonly root = "/sys/fs/cgroup",
    /** How limit files are written (tests watch the order). */
    private readonly write: (file: string, value: string) => Promise<void> = (f, v) => writeFile(f, v),
  ) {}

  private file(controller: string, id: string, name: string): string {
    return join(this.root, controller, this.parent, id, name);
  }

  procs(id: string): Promise<number[]> {
    return readProcs(this.file("memory", id, "cgroup.procs"));
  }

  async freeze(id: string): Promise<void> {
    const state = this.file("freezer", id, "freezer.state");
    await writeFile(state, "FROZEN");
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    while ((await readFile(state, "utf8")).trim() !== "FROZEN") {
      if (Date.now() > deadline) throw new Error(`cgroup of ${id} did not freeze`);
      await sleep(2);
    }
  }

  async thaw(id: string): Promise<void> {
    await writeFile(this.file("freezer", id, "freezer.state"), "THAWED");
  }

  // The kernel keeps limit <= memsw limit at every step: raising, memsw
  // goes first; lowering, the limit does. Without swap accounting there is
  // no memsw file and the limit is all.
  async setMemoryLimit(id: string, bytes: bigint): Promise<void> {
    const limit = this.file("memory", id, "memory.limit_in_bytes");
    const memsw = this.file("memory", id, "memory.memsw.limit_in_bytes");
    const hasMemsw = await exists(memsw);
    const current = await readNumber(limit);
    const order = bytes > current ? [memsw, limit] : [limit, memsw];
    for (const file of order) if (file === limit || hasMemsw) await this.write(file, bytes.toString());
  }

  memoryLimit(id: string): Promise<bigint> {
    return readNumber(this.file("memory", id, "memory.limit_in_bytes"));
  }

  async setCpuShares(id: string, shares: bigint): Promise<void> {
    await writeFile(this.file("cpu", id, "cpu.shares"), shares.toString());
  }

  async setCpuset(id: string, cpus?: string, mems?: string): Promise<void> {
    if (cpus !== undefined) await writeFile(this.file("cpuset", id, "cpuset.cpus"), cpus);
    if (mems !== undefined) await writeFile(this.file("cpuset", id, "cpuset.mems"), mems);
  }

  async setCpuQuota(id: string, quota: bigint, period: bigint): Promise<void> {
    // The period first: a quota is checked against the period in place. -1 is no ceiling.
    await writeFile(this.file("cpu", id, "cpu.cfs_period_us"), period.toString());
    await writeFile(this.file("cpu", id, "cpu.cfs_quota_us"), quota > 0n ? quota.toString() : "-1");
  }

  cpuShares(id: string): Promise<bigint> {
    return readNumber(this.file("cpu", id, "cpu.shares"));
  }

  async memoryStats(id: string): Promise<MemoryStats> {
    const keyed = parseKeyed(await readFile(this.file("memory", id, "memory.stat"), "utf8"));
    const out: MemoryStats = {};
    for (const field of MEMORY_STATS_FIELDS) {
      const v = keyed.get(memoryStatKey(field));
      if (v !== undefined) out[field] = v;
    }
    return out;
  }

  // cpuacct.stat counts in USER_HZ ticks.
  async cpuStats(id: string): Promise<CpuStats> {
    const usage = await readNumber(this.file("cpuacct", id, "cpuacct.usage"));
    const stat = parseKeyed(await readFile(this.file("cpuacct", id, "cpuacct.stat"), "utf8"));
    return { usage, user: (stat.get("user") ?? 0n) * NS_PER_TICK, system: (stat.get("system") ?? 0n) * NS_PER_TICK };
  }

  async pids(id: string): Promise<number> {
    return Number(await readNumber(this.file("pids", id, "pids.current")));
  }

  async oomKills(id: string): Promise<number> {
    const control = parseKeyed(await readFile(this.file("memory", id, "memory.oom_control"), "utf8"));
    return Number(control.get("oom_kill") ?? 0n);
  }

  async detail(id: string): Promise<CgroupDetail> {
    const memory = (name: string) => readOrZero(this.file("memory", id, name));
    const cpu = parseKeyed(await readFile(this.file("cpu", id, "cpu.stat"), "utf8").catch(() => ""));
    const tasks = (await readFile(this.file("memory", id, "tasks"), "utf8").catch(() => "")).split("\n").filter(Boolean).length;
    const quota = await readOrZero(this.file("cpu", id, "cpu.cfs_quota_us"));
    return {
      memoryUsage: await memory("memory.usage_in_bytes"),
      memoryMaxUsage: await memory("memory.max_usage_in_bytes"),
      memoryFailcnt: await memory("memory.failcnt"),
      kernelUsage: await memory("memory.kmem.usage_in_bytes"),
      memoryLimit: await memory("memory.limit_in_bytes"),
      swapLimit: await memory("memory.memsw.limit_in_bytes"),
      cpuPeriods: cpu.get("nr_periods") ?? 0n,
      cpuThrottledPeriods: cpu.get("nr_throttled") ?? 0n,
      cpuThrottledNanos: cpu.get("throttled_time") ?? 0n,
      cpuShares: await readOrZero(this.file("cpu", id, "cpu.shares")),
      cpuPeriod: await readOrZero(this.file("cpu", id, "cpu.cfs_period_us")),
      cpuQuota: quota > 0n ? quota : 0n,
      pidsLimit: await readOrZero(this.file("pids", id, "pids.max")),
      ...(await census(await this.procs(id).catch(() => []), tasks)),
      blockIo: await named(
        parseBlkioV1(
          await readOrEmpty(this.file("blkio", id, "blkio.throttle.io_service_bytes_recursive")),
          await readOrEmpty(this.file("blkio", id, "blkio.throttle.io_serviced_recursive")),
        ),
      ),
    };
  }

  async removeParent(): Promise<void> {
    for (const controller of await hierarchies(this.root)) {
      await rmdirIfPresent(join(this.root, controller, this.parent));
    }
  }

  async ids(): Promise<string[]> {
    const found = new Set<string>();
    for (const controller of await hierarchies(this.root)) {
      for (const id of await subdirs(join(this.root, controller, this.parent))) found.add(id);
    }
    return [...found];
  }

  async remove(id: string): Promise<void> {
    const dirs = (await hierarchies(this.root)).map((c) => join(this.root, c, this.parent, id));
    await killAndRemove(this, id, dirs);
  }
}

// cpu.shares (2..262144, default 1024) and cpu.weight (1..10000, default
// 100) map onto each other linearly, as runc and crun convert them.
export function sharesToWeight(shares: bigint): bigint {
  const s = shares < 2n ? 2n : shares > 262144n ? 262144n : shares;
  return 1n + ((s - 2n) * 9999n) / 262142n;
}

export function weightToShares(weight: bigint): bigint {
  return 2n + ((weight - 1n) * 262142n + 9998n) / 9999n;
}

// v2's memory.stat names for the fields v1 has. v2 is hierarchical
// throughout, so the total fields are the same numbers.
const V2_MEMORY_STAT: Partial<Record<MemoryField, string>> = {
  cache: "file",
  rss: "anon",
  mappedFile: "file_mapped",
  pgfault: "pgfault",
  pgmajfault: "pgmajfault",
  inactiveAnon: "inactive_anon",
  activeAnon: "active_anon",
  inactiveFile: "inactive_file",
  activeFile: "active_file",
  unevictable: "unevictable",
};

const total = (field: MemoryField) => `total${field[0].toUpperCase()}${field.slice(1)}` as MemoryField;

/** cgroup v2: one unified hierarchy. */
export class CgroupsV2 implements ContainerCgroups {
  constructor(
    private readonly parent: string,
    private readonly root = "/sys/fs/cgroup",
  ) {}

  private file(id: string, name: string): string {
    return join(this.root, this.parent, id, name);
  }

  procs(id: string): Promise<number[]> {
    return readProcs(this.file(id, "cgroup.procs"));
  }

  async freeze(id: string): Promise<void> {
    await writeFile(this.file(id, "cgroup.freeze"), "1");
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    while (!/^frozen 1$/m.test(await readFile(this.file(id, "cgroup.events"), "utf8"))) {
      if (Date.now() > deadline) throw new Error(`cgroup of ${id} did not freeze`);
      await sleep(2);
    }
  }

  async thaw(id: string): Promise<void> {
    await writeFile(this.file(id, "cgroup.freeze"), "0");
  }

  private async readMax(name: string, id: string): Promise<bigint> {
    const text = await readText(this.file(id, name));
    return text === "max" ? NO_MEMORY_LIMIT : BigInt(text);
  }

  // Warden's memsw limit equal to the memory limit means no swap at all.
  async setMemoryLimit(id: string, bytes: bigint): Promise<void> {
    await writeFile(this.file(id, "memory.max"), bytes.toString());
    if (await exists(this.file(id, "memory.swap.max"))) await writeFile(this.file(id, "memory.swap.max"), "0");
  }

  memoryLimit(id: string): Promise<bigint> {
    return this.readMax("memory.max", id);
  }

  async setCpuShares(id: string, shares: bigint): Promise<void> {
    await writeFile(this.file(id, "cpu.weight"), sharesToWeight(shares).toString());
  }

  async setCpuset(id: string, cpus?: string, mems?: string): Promise<void> {
    if (cpus !== undefined) await writeFile(this.file(id, "cpuset.cpus"), cpus);
    if (mems !== undefined) await writeFile(this.file(id, "cpuset.mems"), mems);
  }

  async setCpuQuota(id: string, quota: bigint, period: bigint): Promise<void> {
    await writeFile(this.file(id, "cpu.max"), `${quota > 0n ? quota : "max"} ${period}`);
  }

  async cpuShares(id: string): Promise<bigint> {
    return weightToShares(await readNumber(this.file(id, "cpu.weight")));
  }

  async memoryStats(id: string): Promise<MemoryStats> {
    const keyed = parseKeyed(await readFile(this.file(id, "memory.stat"), "utf8"));
    const out: MemoryStats = {};
    for (const [field, name] of Object.entries(V2_MEMORY_STAT) as Array<[MemoryField, string]>) {
      const v = keyed.get(name);
      if (v === undefined) continue;
      out[field] = v;
      out[total(field)] = v;
    }
    const limit = await this.readMax("memory.max", id);
    const swapMax = (await exists(this.file(id, "memory.swap.max"))) ? await this.readMax("memory.swap.max", id) : 0n;
    out.hierarchicalMemoryLimit = limit;
    out.hierarchicalMemswLimit = limit === NO_MEMORY_LIMIT || swapMax === NO_MEMORY_LIMIT ? NO_MEMORY_LIMIT : limit + swapMax;
    if (await exists(this.file(id, "memory.swap.current"))) {
      out.swap = out.totalSwap = await readNumber(this.file(id, "memory.swap.current"));
    }
    return out;
  }

  async cpuStats(id: string): Promise<CpuStats> {
    const stat = parseKeyed(await readFile(this.file(id, "cpu.stat"), "utf8"));
    const usec = (key: string) => stat.get(key) ?? 0n;
    return { usage: usec("usage_usec") * 1000n, user: usec("user_usec") * 1000n, system: usec("system_usec") * 1000n };
  }

  async pids(id: string): Promise<number> {
    return Number(await readNumber(this.file(id, "pids.current")));
  }

  async oomKills(id: string): Promise<number> {
    const events = parseKeyed(await readFile(this.file(id, "memory.events"), "utf8"));
    return Number(events.get("oom_kill") ?? 0n);
  }

  async detail(id: string): Promise<CgroupDetail> {
    const read = (name: string) => readOrZero(this.file(id, name));
    const keyed = async (name: string) => parseKeyed(await readFile(this.file(id, name), "utf8").catch(() => ""));
    const cpu = await keyed("cpu.stat");
    const memoryStat = await keyed("memory.stat");
    const events = await keyed("memory.events");
    const [quota, period] = (await readText(this.file(id, "cpu.max")).catch(() => "max 100000")).split(" ");
    const threads = (await readFile(this.file(id, "cgroup.threads"), "utf8").catch(() => "")).split("\n").filter(Boolean).length;
    const swap = await read("memory.swap.max");
    const limit = await read("memory.max");
    return {
      memoryUsage: await read("memory.current"),
      memoryMaxUsage: await read("memory.peak"),
      memoryFailcnt: events.get("max") ?? 0n,
      kernelUsage: (memoryStat.get("kernel_stack") ?? 0n) + (memoryStat.get("slab") ?? 0n),
      memoryLimit: limit,
      swapLimit: limit > 0n ? limit + swap : 0n,
      cpuPeriods: cpu.get("nr_periods") ?? 0n,
      cpuThrottledPeriods: cpu.get("nr_throttled") ?? 0n,
      cpuThrottledNanos: (cpu.get("throttled_usec") ?? 0n) * 1000n,
      cpuShares: weightToShares(await read("cpu.weight")),
      cpuPeriod: /^\d+$/.test(period ?? "") ? BigInt(period!) : 100_000n,
      cpuQuota: /^\d+$/.test(quota ?? "") ? BigInt(quota!) : 0n,
      pidsLimit: await read("pids.max"),
      ...(await census(await this.procs(id).catch(() => []), threads)),
      blockIo: await named(parseIoStat(await readOrEmpty(this.file(id, "io.stat")))),
    };
  }

  async removeParent(): Promise<void> {
    await rmdirIfPresent(join(this.root, this.parent));
  }

  ids(): Promise<string[]> {
    return subdirs(join(this.root, this.parent));
  }

  async remove(id: string): Promise<void> {
    await killAndRemove(this, id, [join(this.root, this.parent, id)]);
  }
}

/** v2 when /sys/fs/cgroup itself is cgroup2; otherwise the v1 controllers (hybrid or legacy). */
export async function detectCgroups(parent: string): Promise<ContainerCgroups> {
  const mounts = await readMountInfo();
  const root = mounts.filter((m) => m.mountPoint === "/sys/fs/cgroup").pop();
  return root?.fsType === "cgroup2" ? new CgroupsV2(parent) : new CgroupsV1(parent);
}
