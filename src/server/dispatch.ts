// From Warden messages to calls on the container manager and back. The only
// place that knows both the protocol and the core.
import { StringDecoder } from "node:string_decoder";
import type { InfoResult } from "../core/container.js";
import type { ContainerManager, LinkResult } from "../core/container-manager.js";
import { errors } from "../core/errors.js";
import type Long from "long";
import { RLIMIT_NAMES, type BindMount, type NetOutProtocol, type Rlimits } from "../core/interfaces.js";
import type { DiskLimitRequest } from "../core/disk-limits.js";
import {
  encodeResponse,
  fromLong,
  has,
  toLong,
  warden,
  type CommandName,
  type DecodedRequest,
  type Requests,
  type ResponseProperties,
} from "../protocol/messages.js";
import type { Reply, RequestHandler } from "./connection.js";

type Handlers = {
  [K in CommandName]: (request: Requests[K], conn: number, closed: AbortSignal) => Promise<Reply>;
};

// LimitDisk's fields, request and response alike, and the core's names for them.
type DiskWireField =
  | "block_limit" | "block" | "block_soft" | "block_hard"
  | "inode_limit" | "inode" | "inode_soft" | "inode_hard"
  | "byte_limit" | "byte" | "byte_soft" | "byte_hard";
const DISK_FIELDS: Array<[DiskWireField, keyof DiskLimitRequest]> = [
  ["block_limit", "blockLimit"], ["block", "block"], ["block_soft", "blockSoft"], ["block_hard", "blockHard"],
  ["inode_limit", "inodeLimit"], ["inode", "inode"], ["inode_soft", "inodeSoft"], ["inode_hard", "inodeHard"],
  ["byte_limit", "byteLimit"], ["byte", "byte"], ["byte_soft", "byteSoft"], ["byte_hard", "byteHard"],
];

const PROTOCOLS: Record<number, NetOutProtocol> = {
  [warden.NetOutRequest.Protocol.TCP]: "tcp",
  [warden.NetOutRequest.Protocol.UDP]: "udp",
  [warden.NetOutRequest.Protocol.ICMP]: "icmp",
  [warden.NetOutRequest.Protocol.ALL]: "all",
};

export function infoResponse(info: InfoResult): warden.InfoResponse.$Properties {
  const out: warden.InfoResponse.$Properties = {
    state: info.state,
    events: info.events,
    container_path: info.containerPath,
    job_ids: info.jobIds.map((id) => toLong(id)),
  };
  if (info.hostIp !== undefined) out.host_ip = info.hostIp;
  if (info.containerIp !== undefined) out.container_ip = info.containerIp;
  if (info.memoryStat) {
    const m: Record<string, Long> = {};
    for (const [k, v] of Object.entries(info.memoryStat)) if (v !== undefined) m[k] = toLong(v);
    out.memory_stat = m;
  }
  if (info.cpuStat) {
    out.cpu_stat = { usage: toLong(info.cpuStat.usage), user: toLong(info.cpuStat.user), system: toLong(info.cpuStat.system) };
  }
  if (info.diskStat) {
    out.disk_stat = { bytes_used: toLong(info.diskStat.bytesUsed) };
    if (info.diskStat.inodesUsed !== undefined) out.disk_stat.inodes_used = toLong(info.diskStat.inodesUsed);
  }
  if (info.bandwidthStat) {
    const b = info.bandwidthStat;
    out.bandwidth_stat = { in_rate: toLong(b.inRate), in_burst: toLong(b.inBurst), out_rate: toLong(b.outRate), out_burst: toLong(b.outBurst) };
  }
  return out;
}

// Warden's server puts stdout and stderr on the wire even when empty; clients compare them with "".
function linkResponse(result: LinkResult): warden.LinkResponse.$Properties {
  return {
    exit_status: result.exitStatus,
    stdout: result.stdout.toString(),
    stderr: result.stderr.toString(),
    info: infoResponse(result.info),
  };
}

function rlimits(limits: warden.ResourceLimits.$Properties | null | undefined): Rlimits {
  const out: Rlimits = {};
  if (!limits) return out;
  for (const name of RLIMIT_NAMES) {
    if (has(limits, name) && limits[name] != null) out[name] = fromLong(limits[name]!);
  }
  return out;
}

function bindMounts(request: warden.CreateRequest): BindMount[] {
  return (request.bind_mounts ?? []).map((m) => ({
    srcPath: m.src_path,
    dstPath: m.dst_path,
    mode: m.mode === warden.CreateRequest.BindMount.Mode.RW ? "rw" : "ro",
  }));
}

function reply<K extends CommandName>(name: K, response: ResponseProperties[K]): Uint8Array {
  return encodeResponse(name, response);
}

export class Dispatcher implements RequestHandler {
  private readonly handlers: Handlers;

  constructor(manager: ContainerManager) {
    this.handlers = {
      NetIn: async (r, conn) => {
        const rule = await manager.netIn(
          r.handle,
          {
            hostPort: has(r, "host_port") ? r.host_port : undefined,
            containerPort: has(r, "container_port") ? r.container_port : undefined,
          },
          conn,
        );
        return reply("NetIn", { host_port: rule.hostPort, container_port: rule.containerPort });
      },
      NetOut: async (r, conn) => {
        await manager.netOut(
          r.handle,
          {
            network: has(r, "network") ? r.network : undefined,
            port: has(r, "port") ? r.port : undefined,
            portRange: has(r, "port_range") ? r.port_range : undefined,
            // An unknown protocol is dropped by the decoder, and unset means TCP, as in Warden.
            protocol: has(r, "protocol") ? PROTOCOLS[r.protocol] : undefined,
            icmpType: has(r, "icmp_type") ? r.icmp_type : undefined,
            icmpCode: has(r, "icmp_code") ? r.icmp_code : undefined,
            log: r.log,
          },
          conn,
        );
        return reply("NetOut", {});
      },
      CopyIn: async (r, conn) => {
        await manager.copyIn(r.handle, r.src_path, r.dst_path, conn);
        return reply("CopyIn", {});
      },
      CopyOut: async (r, conn) => {
        await manager.copyOut(r.handle, r.src_path, r.dst_path, has(r, "owner") ? r.owner : undefined, conn);
        return reply("CopyOut", {});
      },
      LimitMemory: async (r, conn) => {
        const limit = await manager.limitMemory(r.handle, has(r, "limit_in_bytes") ? fromLong(r.limit_in_bytes) : undefined, conn);
        return reply("LimitMemory", { limit_in_bytes: toLong(limit) });
      },
      LimitCpu: async (r, conn) => {
        const shares = await manager.limitCpu(r.handle, has(r, "limit_in_shares") ? fromLong(r.limit_in_shares) : undefined, conn);
        return reply("LimitCpu", { limit_in_shares: toLong(shares) });
      },
      LimitDisk: async (r, conn) => {
        const request: DiskLimitRequest = {};
        for (const [wire, core] of DISK_FIELDS) if (has(r, wire)) request[core] = fromLong(r[wire] as Long);
        const limits = await manager.limitDisk(r.handle, request, conn);
        const response: warden.LimitDiskResponse.$Properties = {};
        if (limits) for (const [wire, core] of DISK_FIELDS) response[wire] = toLong(limits[core]);
        return reply("LimitDisk", response);
      },
      LimitBandwidth: async (r, conn) => {
        const limit = await manager.limitBandwidth(r.handle, safeNumber(r.rate, "rate"), safeNumber(r.burst, "burst"), conn);
        return reply("LimitBandwidth", { rate: toLong(limit.rate), burst: toLong(limit.burst) });
      },
      Ping: async () => reply("Ping", {}),
      Echo: async (r) => reply("Echo", { message: r.message }),
      List: async () => reply("List", { handles: manager.list() }),
      Create: async (r, conn) => {
        const handle = await manager.create(
          {
            handle: has(r, "handle") ? r.handle : undefined,
            graceTime: has(r, "grace_time") ? r.grace_time : undefined,
            rootfs: has(r, "rootfs") ? r.rootfs : undefined,
            network: has(r, "network") ? r.network : undefined,
            bindMounts: bindMounts(r),
          },
          conn,
        );
        return reply("Create", { handle });
      },
      Info: async (r, conn) => reply("Info", infoResponse(await manager.info(r.handle, conn))),
      Stop: async (r, conn) => {
        await manager.stop(r.handle, { kill: r.kill, background: r.background }, conn);
        return reply("Stop", {});
      },
      Destroy: async (r, conn) => {
        await manager.destroy(r.handle, conn);
        return reply("Destroy", {});
      },
      Spawn: async (r, conn) => {
        const jobId = await manager.spawn(r.handle, spawnOptions(r), conn);
        return reply("Spawn", { job_id: jobId });
      },
      Run: async (r, conn, closed) => reply("Run", linkResponse(await manager.run(r.handle, spawnOptions(r), conn, closed))),
      Link: async (r, conn, closed) => reply("Link", linkResponse(await manager.link(r.handle, r.job_id, conn, closed))),
      Stream: async (r, conn, closed) => {
        const chunks = manager.stream(r.handle, r.job_id, conn, closed);
        // One decoder per stream, so a character split between two reads stays whole.
        const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
        return (async function* () {
          try {
            for (;;) {
              const next = await chunks.next();
              if (next.done) {
                for (const name of ["stdout", "stderr"] as const) {
                  const rest = decoders[name].end();
                  if (rest) yield reply("Stream", { name, data: rest });
                }
                yield reply("Stream", { exit_status: next.value.exitStatus, info: infoResponse(next.value.info) });
                return;
              }
              const data = decoders[next.value.name].write(next.value.data);
              if (data) yield reply("Stream", { name: next.value.name, data });
            }
          } finally {
            // A client gone mid-stream releases the job for a later Stream or Link.
            await chunks.return(undefined as never);
          }
        })();
      },
    };
  }

  handle(request: DecodedRequest, conn: number, closed: AbortSignal): Promise<Reply> {
    const handler = this.handlers[request.name] as (r: unknown, conn: number, closed: AbortSignal) => Promise<Reply>;
    return handler(request.request, conn, closed);
  }
}

function safeNumber(value: Long | number, name: string): number {
  const big = fromLong(value);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw errors.invalid(`${name} ${big} is too large`);
  return Number(big);
}

function spawnOptions(r: warden.SpawnRequest | warden.RunRequest) {
  return {
    script: r.script,
    privileged: r.privileged,
    rlimits: rlimits(has(r, "rlimits") ? r.rlimits : undefined),
    discardOutput: r.discard_output,
    logTag: has(r, "log_tag") ? r.log_tag : undefined,
  };
}
