// Garden's JSON (garden's client.go, container.go, net_out_rule.go) to the
// core's terms and back. Requests are checked with zod: a field of the
// wrong type is a clear error naming it, never a crash or a silent default.
import { z } from "zod";
import type { ContainerInfo } from "../../core/container/container.js";
import type { ContainerSpec } from "../../core/container/spec.js";
import { errors } from "../../core/errors.js";
import type { BindMount } from "../../core/interfaces/filesystem.js";
import type { NetOutProtocol, NetOutRule } from "../../core/interfaces/network.js";
import type { ProcessSpec } from "../../core/process/spec.js";
import { RLIMIT_NAMES, type Rlimits } from "../../core/rlimits.js";
import type { ContainerMetrics } from "../../core/service/container-service.js";

const uint = z.number().int().nonnegative();
const uint64 = z.union([uint, z.bigint().nonnegative()]);
const str = z.string();

const bindMountSchema = z.object({
  src_path: str.optional(),
  dst_path: str.optional(),
  mode: z.union([z.literal(0), z.literal(1)]).optional(),
  origin: z.union([z.literal(0), z.literal(1)]).optional(),
});

const ipRange = z.object({ start: str.optional(), end: str.optional() });
const portRange = z.object({ start: uint.max(65535).optional(), end: uint.max(65535).optional() });
export const netOutRuleSchema = z.object({
  protocol: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]).optional(),
  networks: z.array(ipRange).nullish(),
  ports: z.array(portRange).nullish(),
  icmps: z.object({ type: uint.max(255).optional(), code: uint.max(255).nullish() }).nullish(),
  log: z.boolean().optional(),
});
export type WireNetOutRule = z.infer<typeof netOutRuleSchema>;

export const containerSpecSchema = z.object({
  handle: str.optional(),
  grace_time: uint64.optional(),
  rootfs: str.optional(),
  image: z.object({ uri: str.optional(), username: str.optional(), password: str.optional() }).optional(),
  bind_mounts: z.array(bindMountSchema).nullish(),
  network: str.optional(),
  properties: z.record(str, str).nullish(),
  env: z.array(str).nullish(),
  privileged: z.boolean().optional(),
  limits: z
    .object({
      bandwidth_limits: z.object({ rate: uint64.optional(), burst: uint64.optional() }).optional(),
      cpu_limits: z.object({ weight: uint64.optional(), limit_in_shares: uint64.optional() }).optional(),
      disk_limits: z
        .object({
          inode_soft: uint64.optional(),
          inode_hard: uint64.optional(),
          byte_soft: uint64.optional(),
          byte_hard: uint64.optional(),
          scope: z.union([z.literal(0), z.literal(1)]).optional(),
        })
        .optional(),
      memory_limits: z.object({ limit_in_bytes: uint64.optional() }).optional(),
      pid_limits: z.object({ max: uint64.optional() }).optional(),
    })
    .optional(),
  netout_rules: z.array(netOutRuleSchema).nullish(),
  netin: z.array(z.object({ host_port: uint.max(65535).optional(), container_port: uint.max(65535).optional() })).nullish(),
});
export type WireContainerSpec = z.infer<typeof containerSpecSchema>;

const rlimitsShape = Object.fromEntries(RLIMIT_NAMES.map((n) => [n, uint64.optional()])) as Record<(typeof RLIMIT_NAMES)[number], z.ZodOptional<typeof uint64>>;

export const processSpecSchema = z.object({
  id: str.optional(),
  path: str.optional(),
  args: z.array(str).nullish(),
  env: z.array(str).nullish(),
  dir: str.optional(),
  user: str.optional(),
  rlimits: z.object(rlimitsShape).optional(),
  limits: z
    .object({
      cpu_limits: z.object({ weight: uint64.optional(), limit_in_shares: uint64.optional() }).optional(),
      memory_limits: z.object({ limit_in_bytes: uint64.optional() }).optional(),
    })
    .nullish(),
  tty: z.object({ window_size: z.object({ columns: uint.optional(), rows: uint.optional() }).nullish() }).nullish(),
  image: z.object({ uri: str.optional(), username: str.optional(), password: str.optional() }).optional(),
  bind_mounts: z.array(bindMountSchema).nullish(),
});
export type WireProcessSpec = z.infer<typeof processSpecSchema>;

/** Parses `value` with `schema`, or says which field is wrong. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue.path.length > 0 ? `${what}: ${issue.path.join(".")}` : what;
  throw errors.invalid(`${where}: ${issue.message}`);
}

const NS_PER_SECOND = 1_000_000_000;

/** What the client named as the root: an image URI, the deprecated rootfs, or nothing (the default). */
export function rootfsOf(spec: { rootfs?: string; image?: { uri?: string } }): string | undefined {
  const uri = spec.image?.uri || spec.rootfs || "";
  if (uri === "") return undefined;
  // Garden's URIs with an empty scheme are paths; "raw:///p" and "file:///p" name one too.
  const path = /^(?:raw|file):\/\/(\/.*)$/.exec(uri);
  return path ? path[1] : uri;
}

function bindMountsOf(mounts: WireContainerSpec["bind_mounts"]): BindMount[] {
  return (mounts ?? []).map((m, i) => {
    if (m.origin === 1) throw errors.invalid(`bind_mounts[${i}]: origin Container is not supported; name a host path`);
    return { srcPath: m.src_path ?? "", dstPath: m.dst_path ?? "", mode: m.mode === 1 ? "rw" : "ro" };
  });
}

const PROTOCOLS: Record<number, NetOutProtocol> = { 0: "all", 1: "tcp", 2: "udp", 3: "icmp" };

/** One Garden rule (lists of networks and ports) as the core's rules, one per network and port range. */
export function netOutRules(rule: WireNetOutRule): NetOutRule[] {
  const protocol = PROTOCOLS[rule.protocol ?? 0];
  const networks = rule.networks?.length ? rule.networks : [undefined];
  const ports = rule.ports?.length && (protocol === "tcp" || protocol === "udp") ? rule.ports : [undefined];
  const out: NetOutRule[] = [];
  for (const n of networks) {
    for (const p of ports) {
      const r: NetOutRule = { protocol, log: rule.log ?? false };
      if (n) {
        const start = n.start ?? n.end;
        const end = n.end ?? n.start;
        if (!start || !end) throw errors.invalid("a network range needs a start or an end");
        r.network = start === end ? { kind: "address", address: start } : { kind: "range", start, end };
      }
      if (p) r.ports = { from: p.start ?? p.end ?? 0, to: p.end ?? p.start ?? 0 };
      if (protocol === "icmp" && rule.icmps) {
        r.icmpType = rule.icmps.type ?? 0;
        if (rule.icmps.code !== undefined && rule.icmps.code !== null) r.icmpCode = rule.icmps.code;
      }
      out.push(r);
    }
  }
  return out;
}

const big = (v: number | bigint | undefined) => (v === undefined ? undefined : BigInt(v));

export interface GardenCreate {
  spec: ContainerSpec;
  privileged: boolean;
}

export function containerSpec(wire: WireContainerSpec, defaults: { graceTimeSeconds: number | null }): GardenCreate {
  const spec: ContainerSpec = {
    handle: wire.handle || undefined,
    rootfs: rootfsOf(wire),
    bindMounts: bindMountsOf(wire.bind_mounts),
    properties: wire.properties ?? {},
    env: wire.env ?? [],
  };
  const grace = wire.grace_time === undefined ? 0 : Number(wire.grace_time);
  spec.graceTime = grace > 0 ? grace / NS_PER_SECOND : defaults.graceTimeSeconds;
  if (wire.image?.username || wire.image?.password) spec.imageCredentials = { username: wire.image.username ?? "", password: wire.image.password ?? "" };
  if (wire.network) spec.network = networkOf(wire.network);
  const l = wire.limits;
  if (l) {
    spec.limits = {};
    const memory = big(l.memory_limits?.limit_in_bytes);
    if (memory) spec.limits.memoryBytes = memory;
    const cpu = big(l.cpu_limits?.weight) || big(l.cpu_limits?.limit_in_shares);
    if (cpu) spec.limits.cpuShares = cpu;
    const d = l.disk_limits;
    if (d && (d.byte_hard || d.byte_soft || d.inode_hard || d.inode_soft)) {
      spec.limits.disk = { byteSoft: big(d.byte_soft) ?? 0n, byteHard: big(d.byte_hard) ?? 0n, inodeSoft: big(d.inode_soft) ?? 0n, inodeHard: big(d.inode_hard) ?? 0n };
      spec.limits.diskScope = d.scope === 1 ? "exclusive" : "total";
    }
    const pids = l.pid_limits?.max;
    if (pids) spec.limits.pids = Number(pids);
    const b = l.bandwidth_limits;
    if (b && (b.rate || b.burst)) spec.limits.bandwidth = { rate: Number(b.rate ?? 0), burst: Number(b.burst ?? 0) };
  }
  if (wire.netout_rules?.length) spec.netOut = wire.netout_rules.flatMap(netOutRules);
  if (wire.netin?.length) spec.netIn = wire.netin.map((n) => ({ hostPort: n.host_port ?? 0, containerPort: n.container_port ?? 0 }));
  return { spec, privileged: wire.privileged ?? false };
}

/** Garden's "a.b.c.d/n": an address (of the pool's /30s) as the core takes it. */
function networkOf(text: string): string {
  const [address, prefix] = text.split("/");
  if (prefix !== undefined && prefix !== "30") throw errors.invalid(`network ${text}: only /30 networks of the pool are supported`);
  return address;
}

export function processSpec(wire: WireProcessSpec): ProcessSpec {
  if (wire.bind_mounts?.length) throw errors.invalid("bind mounts of a process (a pea) are not supported");
  const rlimits: Rlimits = {};
  for (const name of RLIMIT_NAMES) {
    const v = wire.rlimits?.[name];
    if (v !== undefined) rlimits[name] = BigInt(v);
  }
  const spec: ProcessSpec = {
    path: wire.path ?? "",
    args: wire.args ?? [],
    env: wire.env ?? [],
    rlimits,
    stdin: { kind: "stream" },
  };
  if (wire.id) spec.id = wire.id;
  if (wire.dir) spec.dir = wire.dir;
  if (wire.user) spec.user = wire.user;
  if (wire.tty) spec.tty = { columns: wire.tty.window_size?.columns ?? 80, rows: wire.tty.window_size?.rows ?? 24 };
  // A pea: a root of its own. Limits of its own when the client names any (even none: "{}").
  const image = rootfsOf({ image: wire.image });
  if (image !== undefined) {
    spec.image = image;
    if (wire.image?.username || wire.image?.password) spec.imageCredentials = { username: wire.image.username ?? "", password: wire.image.password ?? "" };
    if (wire.limits) {
      spec.limits = {};
      const memory = big(wire.limits.memory_limits?.limit_in_bytes);
      if (memory) spec.limits.memoryBytes = memory;
      const cpu = big(wire.limits.cpu_limits?.weight) || big(wire.limits.cpu_limits?.limit_in_shares);
      if (cpu) spec.limits.cpuShares = cpu;
    }
  }
  return spec;
}

/** ContainerInfo as Garden spells it (Go field names, no tags). */
export function infoJson(info: ContainerInfo, externalIp: string): Record<string, unknown> {
  return {
    State: info.state === "stopped" ? "stopped" : "active",
    Events: info.events.map((e) => (e === "out-of-memory" ? "oom" : e)),
    HostIP: info.network.hostIp,
    ContainerIP: info.network.containerIp,
    ExternalIP: externalIp,
    ContainerPath: info.path,
    ProcessIDs: info.processIds,
    Properties: info.properties,
    MappedPorts: info.netIns.map((n) => ({ HostPort: n.hostPort, ContainerPort: n.containerPort })),
  };
}

const MEMORY_FIELDS: Array<[string, string]> = [
  ["active_anon", "activeAnon"], ["active_file", "activeFile"], ["cache", "cache"],
  ["hierarchical_memory_limit", "hierarchicalMemoryLimit"], ["inactive_anon", "inactiveAnon"],
  ["inactive_file", "inactiveFile"], ["mapped_file", "mappedFile"], ["pgfault", "pgfault"],
  ["pgmajfault", "pgmajfault"], ["pgpgin", "pgpgin"], ["pgpgout", "pgpgout"], ["rss", "rss"],
  ["total_active_anon", "totalActiveAnon"], ["total_active_file", "totalActiveFile"], ["total_cache", "totalCache"],
  ["total_inactive_anon", "totalInactiveAnon"], ["total_inactive_file", "totalInactiveFile"],
  ["total_mapped_file", "totalMappedFile"], ["total_pgfault", "totalPgfault"], ["total_pgmajfault", "totalPgmajfault"],
  ["total_pgpgin", "totalPgpgin"], ["total_pgpgout", "totalPgpgout"], ["total_rss", "totalRss"],
  ["total_unevictable", "totalUnevictable"], ["unevictable", "unevictable"], ["swap", "swap"],
  ["hierarchical_memsw_limit", "hierarchicalMemswLimit"], ["total_swap", "totalSwap"],
];

/** Garden's Metrics; big numbers stay exact (the JSON is written by jsonText). */
export function metricsJson(m: ContainerMetrics): Record<string, unknown> {
  const memory: Record<string, bigint> = {};
  const stats = m.memory as unknown as Record<string, bigint | undefined>;
  for (const [wire, key] of MEMORY_FIELDS) memory[wire] = stats[key] ?? 0n;
  // What limits are enforced against: rss + cache - inactive file, as Guardian reports it.
  const toward = (stats.totalRss ?? stats.rss ?? 0n) + (stats.totalCache ?? stats.cache ?? 0n) - (stats.totalInactiveFile ?? stats.inactiveFile ?? 0n);
  memory.TotalUsageTowardLimit = toward > 0n ? toward : 0n;
  return {
    MemoryStat: memory,
    CPUStat: { Usage: m.cpu.usage, User: m.cpu.user, System: m.cpu.system },
    DiskStat: {
      TotalBytesUsed: (m.disk?.bytesUsed ?? 0n) + (m.disk?.baseBytes ?? 0n),
      TotalInodesUsed: m.disk?.inodesUsed ?? 0n,
      ExclusiveBytesUsed: m.disk?.bytesUsed ?? 0n,
      ExclusiveInodesUsed: m.disk?.inodesUsed ?? 0n,
    },
    NetworkStat: { RxBytes: 0, TxBytes: 0 },
    // The container's own limit; 0 (Garden's "none") when it was made without one.
    PidStat: { Current: m.pids, Max: m.pidsLimit ?? 0 },
    Age: BigInt(Math.round(m.age)) * 1_000_000n,
    CPUEntitlement: 0,
  };
}

/** JSON with bigints written as numbers (Go's uint64 fields take them exactly). */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `__big${v}__` : v)).replace(/"__big(\d+)__"/g, "$1");
}
