// What a client asks for when it starts a process in a container.
import { errors } from "../errors.js";
import type { BindMount } from "../interfaces/filesystem.js";
import type { ImageCredentials } from "../interfaces/image-store.js";
import type { ContainerCapabilities, PeaDevice, PeaLimits, PeaSecurity, StdinMode, WindowSize } from "../interfaces/runtime.js";
import { RLIMIT_NAMES, type Rlimits } from "../rlimits.js";
import { checkEnv } from "./environment.js";

export type OutputPolicy =
  /** Past the limit (stdout and stderr together) the process is killed; what came before is kept (Warden's jobs). */
  | { kind: "kill"; limit: number }
  /** The most recent `limit` bytes of each stream are kept; the process runs on. */
  | { kind: "keep-recent"; limit: number }
  /** Nothing is kept. */
  | { kind: "discard" };

export interface ProcessSpec {
  /** Unique among the container's running processes; generated when absent. */
  id?: string;
  path: string;
  args?: string[];
  env?: string[];
  /** The working directory; absent: the user's home. Made when missing, owned by the user. */
  dir?: string;
  /** A name, a uid, uid:gid or name:group; absent: root. */
  user?: string;
  rlimits?: Rlimits;
  /** Run on a terminal of this size. */
  tty?: WindowSize;
  stdin?: StdinMode;
  /** Absent: keep the most recent bytes, up to the daemon's output limit. */
  output?: OutputPolicy;
  /** Send the output, line by line, to the process log under this tag. */
  logTag?: string;
  /** Forget the process once a wait for its end has been answered (Warden's Link). */
  forgetWhenCollected?: boolean;
  /**
   * A root filesystem of its own (a directory or an image reference): the
   * process is a pea, in the container's namespaces but the mount one.
   */
  image?: string;
  imageCredentials?: ImageCredentials;
  /** A pea's security settings beyond its container's (see PeaSecurity). */
  peaSecurity?: PeaSecurity;
  /** Its capabilities instead of the container's. */
  capabilities?: ContainerCapabilities;
  /** Supplementary groups besides its user's own. */
  groups?: number[];
  /**
   * "merge" (absent): the user's groups in the root's /etc/group, then
   * `groups`; "strict": only the user's primary group and `groups`.
   */
  groupsPolicy?: "merge" | "strict";
  /** Setuid programs and file capabilities may raise its privileges; absent: they may not (no_new_privileges). */
  allowPrivilegeGain?: boolean;
  /** Host device nodes a pea may use, at paths of its own. */
  devices?: PeaDevice[];
  /** Host paths bound into a pea's root (its mount namespace alone sees them). */
  bindMounts?: BindMount[];
  /** Images' contents, read-only, in a pea's root (Kubernetes' image volumes). */
  imageMounts?: ImageMount[];
  /** A pea's own limits: present (even empty), a cgroup of its own holds it; absent, it shares the container's. */
  limits?: PeaLimits;
  /** With limits of its own: the cgroup its own goes under (an absolute path, as a kubelet's pod cgroup). */
  cgroupParent?: string;
  /**
   * A pea from an image runs what the image says, as Docker and Podman run
   * an image: its Entrypoint then its Cmd (path and args are then ignored).
   * `entrypoint` replaces the image's Entrypoint and drops its Cmd; `cmd`
   * replaces its Cmd. The image's Env lies under the process's, its
   * WorkingDir and User apply unless the spec names its own.
   */
  fromImage?: { entrypoint?: string[]; cmd?: string[] };
  /**
   * The id of a running pea of the container: the process runs inside it
   * (its root, its mount namespace, its cgroup), as its user (the spec names
   * none), with its environment under the spec's.
   */
  inPea?: string;
  /**
   * A file (absolute) its output also goes to, line by line with the time
   * and the stream, in Kubernetes' container log format; written by its
   * supervisor, so nothing is lost while the daemon is away.
   */
  logFile?: string;
}

const MAX_ID_BYTES = 256;
const MAX_WINDOW = 65535;

export function checkWindowSize(size: WindowSize): void {
  for (const [name, v] of [["rows", size.rows], ["columns", size.columns]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > MAX_WINDOW) throw errors.invalid(`window ${name} ${v} must be between 0 and ${MAX_WINDOW}`);
  }
}

/** What the kernel takes: shares 2 to 262144, a period of 1 ms to 1 s, a quota of 1 ms or more (0: none). */
export function checkPeaLimits(limits: PeaLimits): void {
  const { memoryBytes, cpuShares, cpuQuota, cpuPeriod } = limits;
  if (memoryBytes !== undefined && memoryBytes < 0n) throw errors.invalid(`memory limit ${memoryBytes} must not be negative`);
  if (cpuShares !== undefined && (cpuShares < 2n || cpuShares > 262_144n)) throw errors.invalid(`CPU shares ${cpuShares} must be 2 to 262144`);
  if (cpuPeriod !== undefined && cpuPeriod !== 0n && (cpuPeriod < 1000n || cpuPeriod > 1_000_000n)) throw errors.invalid(`CPU period ${cpuPeriod} must be 1000 to 1000000 microseconds`);
  if (cpuQuota !== undefined && cpuQuota !== 0n && cpuQuota < 1000n) throw errors.invalid(`CPU quota ${cpuQuota} must be 1000 microseconds or more (0: none)`);
  for (const [what, list] of [["CPU", limits.cpusetCpus], ["memory node", limits.cpusetMems]] as const) {
    if (list !== undefined && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(list)) throw errors.invalid(`${what} list ${JSON.stringify(list)} must be numbers and ranges, as "0-3,5"`);
  }
}

/** An absolute path in the cgroup hierarchy of plain names (no "." or ".."): where a pea's own cgroup may go. */
export function checkCgroupParent(path: string): void {
  const segments = path.split("/").slice(1);
  if (!path.startsWith("/") || path.length > 1024 || segments.length === 0 || !segments.every((s) => /^[A-Za-z0-9_.:@-]+$/.test(s) && s !== "." && s !== "..")) {
    throw errors.invalid(`cgroup parent ${JSON.stringify(path)} must be an absolute path of plain names`);
  }
}

/** An image's contents (or one directory of them) mounted read-only at dstPath. */
export interface ImageMount {
  image: string;
  dstPath: string;
  /** A path inside the image (relative, no "..": it names a directory or file of the image's own). */
  subPath?: string;
}

export function checkImageMount(m: ImageMount): void {
  if (typeof m.image !== "string" || m.image === "" || m.image.includes("\0")) throw errors.invalid("an image mount needs an image");
  if (typeof m.dstPath !== "string" || !m.dstPath.startsWith("/") || m.dstPath.includes("\0")) throw errors.invalid(`image mount at ${m.dstPath}: the path must be absolute`);
  if (m.subPath !== undefined && (m.subPath.startsWith("/") || m.subPath.includes("\0") || m.subPath.split("/").includes(".."))) {
    throw errors.invalid(`image sub-path ${JSON.stringify(m.subPath)} must be relative, inside the image`);
  }
}

export function checkProcessSpec(spec: ProcessSpec): void {
  if (spec.limits) checkPeaLimits(spec.limits);
  if (spec.cgroupParent !== undefined) {
    if (!spec.limits) throw errors.invalid("a cgroup parent is for a pea with limits of its own");
    checkCgroupParent(spec.cgroupParent);
  }
  for (const d of spec.devices ?? []) {
    if (!d.hostPath.startsWith("/") || !d.containerPath.startsWith("/") || `${d.hostPath}${d.containerPath}`.includes("\0")) {
      throw errors.invalid(`device ${d.hostPath} -> ${d.containerPath}: both paths must be absolute`);
    }
    if (!/^[rwm]{1,3}$/.test(d.permissions) || new Set(d.permissions).size !== d.permissions.length) {
      throw errors.invalid(`device ${d.hostPath}: permissions ${JSON.stringify(d.permissions)} must be letters of "rwm"`);
    }
  }
  if (spec.id !== undefined) {
    if (spec.id === "" || Buffer.byteLength(spec.id) > MAX_ID_BYTES || /[\x00-\x1f\x7f]/.test(spec.id)) {
      throw errors.invalid(`process id must be 1 to ${MAX_ID_BYTES} bytes without control characters`);
    }
  }
  if (spec.logFile !== undefined && (!spec.logFile.startsWith("/") || spec.logFile.includes("\0"))) throw errors.invalid(`log file ${spec.logFile} must be an absolute path`);
  if (spec.inPea !== undefined && (spec.image !== undefined || spec.fromImage !== undefined)) {
    throw errors.invalid("a process in a pea runs on the pea's root: no image of its own");
  }
  if ((spec.bindMounts?.length || spec.imageMounts?.length || spec.peaSecurity) && spec.image === undefined) {
    throw errors.invalid("only a pea (a process with an image) has bind mounts and security settings of its own");
  }
  for (const m of spec.imageMounts ?? []) checkImageMount(m);
  for (const g of spec.groups ?? []) if (!Number.isInteger(g) || g < 0 || g > 0xfffffffe) throw errors.invalid(`group ${g} is no group id`);
  for (const m of spec.bindMounts ?? []) {
    if (!m.srcPath.startsWith("/") || !m.dstPath.startsWith("/") || `${m.srcPath}${m.dstPath}`.includes("\0")) {
      throw errors.invalid(`bind mount ${m.srcPath} -> ${m.dstPath}: both paths must be absolute`);
    }
  }
  if (spec.fromImage !== undefined) {
    if (spec.image === undefined) throw errors.invalid("a process from an image needs an image");
    for (const s of [...(spec.fromImage.entrypoint ?? []), ...(spec.fromImage.cmd ?? [])]) {
      if (typeof s !== "string" || s.includes("\0")) throw errors.invalid("process arguments must be strings without NUL bytes");
    }
  } else if (typeof spec.path !== "string" || spec.path === "") {
    throw errors.invalid("a process needs a path");
  }
  for (const s of [spec.path ?? "", ...(spec.args ?? []), spec.dir ?? "", spec.user ?? ""]) {
    if (typeof s !== "string" || s.includes("\0")) throw errors.invalid("process arguments must be strings without NUL bytes");
  }
  if (spec.dir !== undefined && spec.dir !== "" && !spec.dir.startsWith("/")) throw errors.invalid(`dir ${spec.dir} must be an absolute path`);
  if (spec.env) checkEnv(spec.env);
  for (const [name, value] of Object.entries(spec.rlimits ?? {})) {
    if (!(RLIMIT_NAMES as readonly string[]).includes(name)) throw errors.invalid(`unknown rlimit ${name}`);
    if (typeof value !== "bigint" || value < 0n) throw errors.invalid(`rlimit ${name} must be a number, 0 or more`);
  }
  if (spec.tty) checkWindowSize(spec.tty);
  const output = spec.output;
  if (output && output.kind !== "discard" && !(Number.isSafeInteger(output.limit) && output.limit > 0)) {
    throw errors.invalid("an output limit must be a positive number of bytes");
  }
}
