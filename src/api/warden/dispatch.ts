// From Warden's messages to calls on the container service and back: one
// handler per request type, each decoding, calling the core, encoding.
import type Long from "long";
import { CoreError, errors } from "../../core/errors.js";
import type { BindMount } from "../../core/interfaces/filesystem.js";
import type { NetOutProtocol } from "../../core/interfaces/network.js";
import type { CollectedOutput } from "../../core/process/process.js";
import type { ContainerService, ProcessRef } from "../../core/service/container-service.js";
import { RLIMIT_NAMES, type Rlimits } from "../../core/rlimits.js";
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
} from "../../protocol/messages.js";
import type { Reply, RequestHandler } from "./connection.js";
import { applyDiskRequest, diskLimitFields, type DiskLimitRequest } from "./disk-limits.js";
import { ConnectionHolds } from "./holds.js";
import { infoResponse } from "./info.js";
import type { FrameBody } from "../../protocol/frame.js";
import { encodeLinkWithOutput, encodeStreamChunk } from "../../protocol/output-bytes.js";
import { jobExitStatus, jobSpec, type SpawnOptions, type WardenJobsConfig } from "./jobs.js";
import { checkWirePort, netOutRule } from "./net-out.js";

type Handlers = {
  [K in CommandName]: (request: Requests[K], conn: ConnectionHolds, closed: AbortSignal) => Promise<Reply>;
};

// LimitDisk's fields, request and response alike, and the front end's names for them.
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

function safeNumber(value: Long | number, name: string): number {
  const big = fromLong(value);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw errors.invalid(`${name} ${big} is too large`);
  return Number(big);
}

function spawnOptions(r: warden.SpawnRequest | warden.RunRequest): SpawnOptions {
  return {
    script: r.script,
    privileged: r.privileged,
    rlimits: rlimits(has(r, "rlimits") ? r.rlimits : undefined),
    discardOutput: r.discard_output,
    logTag: has(r, "log_tag") ? r.log_tag : undefined,
  };
}

// Job ids are uint32 on the wire and process ids strings in the core.
function jobId(id: string): number {
  return Number(id);
}

export class Dispatcher implements RequestHandler {
  private readonly handlers: Handlers;
  private readonly connections = new Map<number, ConnectionHolds>();

  constructor(
    private readonly service: ContainerService,
    private readonly jobs: WardenJobsConfig,
  ) {
    const s = service;
    this.handlers = {
      NetIn: async (r) => {
        const rule = await s.netIn(r.handle, {
          hostPort: has(r, "host_port") ? checkWirePort(r.host_port, "host_port") : undefined,
          containerPort: has(r, "container_port") ? checkWirePort(r.container_port, "container_port") : undefined,
        });
        return reply("NetIn", { host_port: rule.hostPort, container_port: rule.containerPort });
      },
      NetOut: async (r) => {
        // Warden looked the container up and checked its state before it read the rule.
        const { state } = s.info(r.handle);
        if (state !== "active") throw errors.wrongState(["active"], state);
        const rule = netOutRule({
          network: has(r, "network") ? r.network : undefined,
          port: has(r, "port") ? r.port : undefined,
          portRange: has(r, "port_range") ? r.port_range : undefined,
          // An unknown protocol is dropped by the decoder, and unset means TCP, as in Warden.
          protocol: has(r, "protocol") ? PROTOCOLS[r.protocol] : undefined,
          icmpType: has(r, "icmp_type") ? r.icmp_type : undefined,
          icmpCode: has(r, "icmp_code") ? r.icmp_code : undefined,
          log: r.log,
        });
        await s.netOut(r.handle, [rule]);
        return reply("NetOut", {});
      },
      CopyIn: async (r) => {
        await s.copyIn(r.handle, { src: r.src_path, dst: r.dst_path });
        return reply("CopyIn", {});
      },
      CopyOut: async (r) => {
        await s.copyOut(r.handle, { src: r.src_path, dst: r.dst_path, owner: has(r, "owner") ? r.owner : undefined });
        return reply("CopyOut", {});
      },
      LimitMemory: async (r) => {
        const limit = await s.limitMemory(r.handle, has(r, "limit_in_bytes") ? fromLong(r.limit_in_bytes) : undefined);
        return reply("LimitMemory", { limit_in_bytes: toLong(limit) });
      },
      LimitCpu: async (r) => {
        const shares = await s.limitCpu(r.handle, has(r, "limit_in_shares") ? fromLong(r.limit_in_shares) : undefined);
        return reply("LimitCpu", { limit_in_shares: toLong(shares) });
      },
      LimitDisk: async (r) => {
        const request: DiskLimitRequest = {};
        for (const [wire, name] of DISK_FIELDS) if (has(r, wire)) request[name] = fromLong(r[wire] as Long);
        const response: warden.LimitDiskResponse.$Properties = {};
        try {
          const current = await s.diskLimits(r.handle);
          // With quotas off, Warden's LimitDisk did nothing and answered nothing.
          if (!current) return reply("LimitDisk", response);
          const held = await s.limitDisk(r.handle, applyDiskRequest(current.limits, request));
          if (held) for (const [wire, name] of DISK_FIELDS) response[wire] = toLong(diskLimitFields(held)[name]);
        } catch (err) {
          // Warden named this one failure "setting disk limit", whatever step it was.
          if (err instanceof CoreError && err.code === "LIMIT_FAILED") {
            throw new CoreError("LIMIT_FAILED", err.message, { details: { operation: "setting disk limit" }, cause: err.cause });
          }
          throw err;
        }
        return reply("LimitDisk", response);
      },
      LimitBandwidth: async (r) => {
        const limit = await s.limitBandwidth(r.handle, { rate: safeNumber(r.rate, "rate"), burst: safeNumber(r.burst, "burst") });
        return reply("LimitBandwidth", { rate: toLong(limit.rate), burst: toLong(limit.burst) });
      },
      Ping: async () => reply("Ping", {}),
      Echo: async (r) => reply("Echo", { message: r.message }),
      List: async () => reply("List", { handles: s.list() }),
      Create: async (r, conn, closed) => {
        const handle = await s.create({
          handle: has(r, "handle") ? r.handle : undefined,
          graceTime: has(r, "grace_time") ? r.grace_time : undefined,
          rootfs: has(r, "rootfs") ? r.rootfs : undefined,
          network: has(r, "network") ? r.network : undefined,
          bindMounts: bindMounts(r),
        });
        // The creating connection holds it, unless it went away while we worked.
        if (!closed.aborted) conn.hold(handle);
        return reply("Create", { handle });
      },
      Info: async (r) => {
        const info = s.info(r.handle);
        return reply("Info", infoResponse(info, await s.metrics(r.handle)));
      },
      Stop: async (r) => {
        await s.stop(r.handle, { kill: r.kill, background: r.background });
        return reply("Stop", {});
      },
      Destroy: async (r) => {
        await s.destroy(r.handle);
        return reply("Destroy", {});
      },
      Spawn: async (r) => {
        const job = await s.run(r.handle, jobSpec(this.jobs, spawnOptions(r)));
        return reply("Spawn", { job_id: jobId(job.id) });
      },
      Run: async (r, _conn, closed) => {
        const job = await s.run(r.handle, jobSpec(this.jobs, spawnOptions(r)));
        return this.link("Run", job, closed);
      },
      Link: async (r, _conn, closed) => this.link("Link", s.process(r.handle, String(r.job_id)), closed),
      Stream: async (r, _conn, closed) => this.stream(s.process(r.handle, String(r.job_id)), closed),
    };
  }

  // Warden's server puts stdout and stderr on the wire even when empty; clients compare them with "".
  // Both go out as the job's bytes, not decoded and encoded again as text.
  private async link(name: "Link" | "Run", job: ProcessRef, closed: AbortSignal): Promise<FrameBody> {
    const output: CollectedOutput = await job.collect(closed);
    if (output.result.outputExceeded) await job.recordEvent("process-output-exceeded");
    const response = { exit_status: jobExitStatus(output.result), info: infoResponse(job.containerInfo()) };
    return encodeLinkWithOutput(name, response, output.stdout, output.stderr);
  }

  private stream(job: ProcessRef, closed: AbortSignal): AsyncIterable<FrameBody> {
    const chunks = job.attach(closed);
    return (async function* () {
      try {
        for (;;) {
          const next = await chunks.next();
          if (next.done) {
            yield reply("Stream", { exit_status: jobExitStatus(next.value), info: infoResponse(job.containerInfo()) });
            return;
          }
          yield encodeStreamChunk(next.value.stream, next.value.data);
        }
      } finally {
        // A client gone mid-stream leaves the job for a later Stream or Link.
        await chunks.return(undefined as never);
      }
    })();
  }

  opened(conn: number): void {
    const holds = new ConnectionHolds(this.service);
    holds.holdAll();
    this.connections.set(conn, holds);
  }

  closed(conn: number): void {
    this.connections.get(conn)?.releaseAll();
    this.connections.delete(conn);
  }

  handle(request: DecodedRequest, conn: number, closed: AbortSignal): Promise<Reply> {
    let holds = this.connections.get(conn);
    if (!holds) {
      holds = new ConnectionHolds(this.service);
      this.connections.set(conn, holds);
    }
    // A request naming a container holds it for the connection, as a handle lookup did in Warden.
    const handle = (request.request as { handle?: unknown }).handle;
    if (typeof handle === "string" && request.name !== "Create") holds.hold(handle);
    const handler = this.handlers[request.name] as (r: unknown, conn: ConnectionHolds, closed: AbortSignal) => Promise<Reply>;
    return handler(request.request, holds, closed);
  }
}
