// What a client asks for when it creates a container, and the checks it
// must pass before anything is allocated or made.
import { errors } from "../errors.js";
import type { DiskLimits } from "../interfaces/disk-quota.js";
import type { BindMount } from "../interfaces/filesystem.js";
import { type IdMap, MAX_HOST_ID } from "../interfaces/id-map.js";
import type { ImageCredentials } from "../interfaces/image-store.js";
import type { ContainerCapabilities } from "../interfaces/runtime.js";
import type { BandwidthLimit, NetInRule, NetOutRule } from "../interfaces/network.js";
import { checkEnv } from "../process/environment.js";
import { checkCgroupParent } from "../process/spec.js";
import { checkProperties } from "./properties.js";
import type { Properties } from "./container.js";

export interface ContainerLimitsSpec {
  /** Most processes it may have; absent: the daemon's limit. */
  pids?: number;
  memoryBytes?: bigint;
  cpuShares?: bigint;
  disk?: DiskLimits;
  /** "total": the disk limits count the base too (Garden's default); "exclusive" (ours): the writable layer only. */
  diskScope?: "total" | "exclusive";
  bandwidth?: BandwidthLimit;
}

export interface ContainerSpec {
  handle?: string;
  /** Seconds without a holder before the container is destroyed; null: never; absent: the daemon's default. */
  graceTime?: number | null;
  /**
   * The base root filesystem: a host directory or an image reference (see
   * images/reference.ts); absent: the daemon's default.
   */
  rootfs?: string;
  /** For an image from a registry that asks for them. */
  imageCredentials?: ImageCredentials;
  /** Without a user namespace: container root is host root. */
  privileged?: boolean;
  /**
   * A user namespace of its own with this map, in place of the daemon's (a
   * Kubernetes pod's). Its base is the one kept with the host's ids, seen
   * through idmapped mounts: nothing is copied for it.
   */
  idMap?: IdMap;
  /** Its host name (1-64 characters); absent: its id. */
  hostname?: string;
  /** Its /etc/resolv.conf; absent: the daemon's servers (or the host's). */
  dns?: DnsConfig;
  /** Kernel parameters of its own namespaces (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*). */
  sysctls?: Record<string, string>;
  /** What its processes may hold; absent: the daemon's defaults. */
  capabilities?: ContainerCapabilities;
  bindMounts?: BindMount[];
  /** An address of the pool: the container gets the /30 holding it. */
  network?: string;
  /** In the host's network namespace (no network of its own: no ports forwarded, no egress rules, no shaping). */
  hostNetwork?: boolean;
  /** Its cgroup under this one (an absolute path, as a kubelet's pod cgroup) instead of the daemon's. */
  cgroupParent?: string;
  properties?: Properties;
  /** KEY=VALUE pairs every process of the container starts with. */
  env?: string[];
  limits?: ContainerLimitsSpec;
  netIn?: Array<Partial<NetInRule>>;
  netOut?: NetOutRule[];
}

/** Name resolution as resolv.conf says it: servers, search domains, options (ndots:5). */
export interface DnsConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export const MAX_HANDLE_BYTES = 1024;

export function checkHandle(handle: string): void {
  if (handle === "") throw errors.invalid("handle must not be empty");
  if (Buffer.byteLength(handle) > MAX_HANDLE_BYTES) throw errors.invalid(`handle is longer than ${MAX_HANDLE_BYTES} bytes`);
  // A handle is a name only: paths are built from ids we make, so "../x" is
  // harmless. Nothing that breaks a C string or a log line, though.
  if (/[\x00-\x1f\x7f]/.test(handle)) throw errors.invalid("handle must not contain NUL or control characters");
}

export function checkContainerSpec(spec: ContainerSpec): void {
  if (spec.handle !== undefined) checkHandle(spec.handle);
  for (const path of [spec.rootfs ?? "", ...(spec.bindMounts ?? []).flatMap((m) => [m.srcPath, m.dstPath])]) {
    if (path.includes("\0")) throw errors.invalid("a path must not hold a NUL byte");
  }
  const pids = spec.limits?.pids;
  if (pids !== undefined && !(Number.isSafeInteger(pids) && pids > 0)) throw errors.invalid(`pid limit ${pids} must be a whole number above 0`);
  if (spec.hostname !== undefined && !/^[^\s\x00/]{1,64}$/.test(spec.hostname)) {
    throw errors.invalid(`host name ${JSON.stringify(spec.hostname)} must be 1 to 64 characters without blanks or '/'`);
  }
  if (spec.graceTime !== undefined && spec.graceTime !== null && !(Number.isFinite(spec.graceTime) && spec.graceTime >= 0)) {
    throw errors.invalid(`grace time ${spec.graceTime} must be a number of seconds, 0 or more`);
  }
  if (spec.env) checkEnv(spec.env);
  if (spec.properties) checkProperties(spec.properties);
  for (const [key, value] of Object.entries(spec.sysctls ?? {})) {
    if (!/^(net\.|kernel\.(shm|msg|sem)|fs\.mqueue\.)[a-z0-9_.\-/]+$/.test(key) || !/^[^\x00\n]{0,256}$/.test(value)) {
      throw errors.invalid(`sysctl ${key}=${value}: only parameters of the container's own namespaces may be set`);
    }
  }
  if (spec.hostNetwork) {
    const own = [
      spec.network !== undefined && "an address of the pool",
      (spec.netIn?.length ?? 0) > 0 && "ports forwarded to it",
      (spec.netOut?.length ?? 0) > 0 && "egress rules",
      spec.limits?.bandwidth !== undefined && "a bandwidth limit",
      Object.keys(spec.sysctls ?? {}).some((k) => k.startsWith("net.")) && "net.* sysctls (they would change the host's)",
    ].filter(Boolean);
    if (own.length > 0) throw errors.invalid(`a container on the host's network has no network of its own: ${own.join(", ")} cannot be given`);
  }
  if (spec.idMap) checkIdMap(spec);
  if (spec.cgroupParent !== undefined) checkCgroupParent(spec.cgroupParent);
  if (spec.dns) {
    const dns = spec.dns;
    for (const word of [...dns.servers, ...dns.searches, ...dns.options]) {
      if (typeof word !== "string" || !/^[^\s\x00]{1,253}$/.test(word)) throw errors.invalid(`DNS setting ${JSON.stringify(word)} must be a word without blanks`);
    }
    if (dns.servers.length > 3 || dns.searches.length > 32) throw errors.invalid("at most 3 DNS servers and 32 search domains");
  }
}

function checkIdMap(spec: ContainerSpec): void {
  const { hostId, size } = spec.idMap!;
  if (!Number.isSafeInteger(hostId) || !Number.isSafeInteger(size) || hostId < 1 || size < 1 || hostId + size - 1 > MAX_HOST_ID) {
    throw errors.invalid(`user namespace map 0 ${hostId} ${size}: container ids from 0 must map to host ids from 1 to ${MAX_HOST_ID}`);
  }
  if (spec.privileged) throw errors.invalid("a privileged container has no user namespace: it cannot be given a map");
  if (spec.hostNetwork) throw errors.invalid("a container with a user namespace of its own cannot be on the host's network");
}
