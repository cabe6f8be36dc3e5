// The container's OCI bundle, built by small rules that each own one concern
// (in the manner of Guardian's bundlerules), so each is tested on its own.
import type { BindMount } from "../../core/interfaces/filesystem.js";
import { bindMountIdmapOption, type IdMap } from "../security/id-map.js";
import type { OciSeccomp } from "../security/seccomp.js";
import type { OciDevice, OciDeviceRule, OciSpec } from "./oci-spec.js";

export interface BundleContext {
  id: string;
  /** Absent: the id. */
  hostname?: string;
  rootfsPath: string;
  bindMounts: BindMount[];
  /** cgroups path under every controller: /<parent>/<id>. */
  cgroupParent: string;
  /** Its cgroup elsewhere (absolute), in place of /<parent>/<id>. */
  cgroupsPath?: string;
  /** Host path of the init (warden-init, or catatonit), bind-mounted read-only. */
  initPath: string;
  /** Namespaces to join; new, empty ones when absent. */
  namespaces?: NamespacePaths;
  /** No network namespace of its own: the runtime's (the host's). */
  hostNetwork?: boolean;
  /** Most processes the container may have; none when 0 or absent. */
  pidsLimit?: number;
  /** Kernel parameters of its namespaces (net.*, kernel.shm*, fs.mqueue.*), set as it is made. */
  sysctls?: Record<string, string>;
  /** Host path of a static busybox, bind-mounted read-only for CopyIn and CopyOut; none when absent. */
  copyHelperPath?: string;
  /** The user namespace; container root is host root when absent. */
  idMap?: IdMap;
  /** Whether the runtime can give bind mounts the container's ids (crun can, runc 1.1 cannot). */
  idmappedBindMounts?: boolean;
  seccomp?: OciSeccomp;
  /** What the init holds; none when absent. */
  initCapabilities?: readonly string[];
  /** The same filter compiled (base64 BPF), for crun's run.oci.seccomp_bpf_data: no compiling per container. */
  compiledSeccomp?: string;
}

/** Pinned namespaces to join: the network one, and the user namespace owning it when containers get one. */
export interface NamespacePaths {
  network: string;
  user?: string;
}

export type BundleRule = (spec: OciSpec, ctx: BundleContext) => void;

/** Where the init appears in the container: /dev is the runtime's own tmpfs, so nothing is written to the rootfs. */
export const INIT_PATH_IN_CONTAINER = "/dev/init";
/** Where copies find their tools, whatever the root filesystem holds. */
export const COPY_HELPER_IN_CONTAINER = "/dev/.warden/busybox";

export const baseRule: BundleRule = (spec, ctx) => {
  spec.root = { path: ctx.rootfsPath, readonly: false };
  spec.hostname = ctx.hostname ?? ctx.id;
};

export const initRule: BundleRule = (spec, ctx) => {
  // PID 1 reaps, and (warden-init with its socket) starts processes. -P: catatonit's pause, run no program.
  spec.process = {
    terminal: false,
    user: { uid: 0, gid: 0 },
    args: [INIT_PATH_IN_CONTAINER, "-P"],
    env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    cwd: "/",
    capabilities: ((c) => ({ bounding: c, effective: c, permitted: c, inheritable: c, ambient: [] }))([...(ctx.initCapabilities ?? [])]),
    noNewPrivileges: true,
  };
  spec.mounts.push({
    destination: INIT_PATH_IN_CONTAINER,
    type: "bind",
    source: ctx.initPath,
    options: ["bind", "ro", "nosuid", "nodev"],
  });
};

export const namespacesRule: BundleRule = (spec, ctx) => {
  const network = ctx.namespaces ? [{ type: "network", path: ctx.namespaces.network }] : ctx.hostNetwork ? [] : [{ type: "network" }];
  spec.linux.namespaces = [{ type: "pid" }, ...network, { type: "ipc" }, { type: "uts" }, { type: "mount" }];
};

// The user namespace is joined when the Network made one (it owns the
// network namespace); the map is given either way, as runc insists on it.
export const userNamespaceRule: BundleRule = (spec, ctx) => {
  if (!ctx.idMap) return;
  const user = ctx.namespaces?.user;
  spec.linux.namespaces.push(user ? { type: "user", path: user } : { type: "user" });
  const mapping = [{ containerID: 0, hostID: ctx.idMap.hostId, size: ctx.idMap.size }];
  spec.linux.uidMappings = mapping;
  spec.linux.gidMappings = mapping;
};

export const seccompRule: BundleRule = (spec, ctx) => {
  if (!ctx.seccomp) return;
  if (ctx.compiledSeccomp) spec.annotations = { ...spec.annotations, "run.oci.seccomp_bpf_data": ctx.compiledSeccomp };
  else spec.linux.seccomp = ctx.seccomp;
};

export const systemMountsRule: BundleRule = (spec) => {
  spec.mounts.push(
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    // tmpfs pages are charged to the container's memory cgroup, so /dev/shm counts against its limit.
    { destination: "/dev/shm", type: "tmpfs", source: "tmpfs", options: ["nosuid", "noexec", "nodev", "mode=1777"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
  );
};

// Warden's device list (tty, random, urandom, null, zero, fuse) plus full,
// which every OCI runtime creates; ptmx and pts come with devpts.
const DEVICES: Array<[string, number, number]> = [
  ["/dev/null", 1, 3],
  ["/dev/zero", 1, 5],
  ["/dev/full", 1, 7],
  ["/dev/random", 1, 8],
  ["/dev/urandom", 1, 9],
  ["/dev/tty", 5, 0],
  ["/dev/fuse", 10, 229],
];

export const devicesRule: BundleRule = (spec) => {
  spec.linux.devices = DEVICES.map(
    ([path, major, minor]): OciDevice => ({ path, type: "c", major, minor, fileMode: 0o666, uid: 0, gid: 0 }),
  );
  const allow = (major: number, minor?: number): OciDeviceRule => ({
    allow: true,
    type: "c",
    major,
    ...(minor === undefined ? {} : { minor }),
    access: "rw",
  });
  spec.linux.resources.devices = [
    { allow: false, access: "rwm" },
    ...DEVICES.map(([, major, minor]) => allow(major, minor)),
    allow(5, 2), // /dev/ptmx
    allow(136), // /dev/pts/*
  ];
};

export const cgroupsRule: BundleRule = (spec, ctx) => {
  spec.linux.cgroupsPath = ctx.cgroupsPath ?? `/${ctx.cgroupParent}/${ctx.id}`;
  if (ctx.pidsLimit) spec.linux.resources.pids = { limit: ctx.pidsLimit };
};

export const copyHelperRule: BundleRule = (spec, ctx) => {
  if (!ctx.copyHelperPath) return;
  spec.mounts.push({
    destination: COPY_HELPER_IN_CONTAINER,
    type: "bind",
    source: ctx.copyHelperPath,
    options: ["bind", "ro", "nosuid", "nodev"],
  });
};

export const bindMountsRule: BundleRule = (spec, ctx) => {
  for (const m of ctx.bindMounts) {
    spec.mounts.push({
      destination: m.dstPath,
      type: "bind",
      source: m.srcPath,
      options: [
        "bind",
        m.mode,
        "nosuid",
        "nodev",
        ...(ctx.idMap && ctx.idmappedBindMounts ? [bindMountIdmapOption(ctx.idMap)] : []),
      ],
    });
  }
};

export const maskRule: BundleRule = (spec) => {
  spec.linux.maskedPaths = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
  ];
  spec.linux.readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
};

export const sysctlRule: BundleRule = (spec, ctx) => {
  if (ctx.sysctls && Object.keys(ctx.sysctls).length > 0) spec.linux.sysctl = { ...ctx.sysctls };
};

export const BUNDLE_RULES: readonly BundleRule[] = [
  baseRule,
  namespacesRule,
  userNamespaceRule,
  seccompRule,
  systemMountsRule,
  initRule,
  copyHelperRule,
  devicesRule,
  cgroupsRule,
  sysctlRule,
  bindMountsRule,
  maskRule,
];

export function buildBundle(ctx: BundleContext, rules: readonly BundleRule[] = BUNDLE_RULES): OciSpec {
  const spec: OciSpec = {
    ociVersion: "1.0.2",
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: [], env: [], cwd: "/" },
    root: { path: "", readonly: false },
    hostname: "",
    mounts: [],
    linux: { namespaces: [], cgroupsPath: "", devices: [], resources: { devices: [] }, maskedPaths: [], readonlyPaths: [] },
  };
  for (const rule of rules) rule(spec, ctx);
  return spec;
}
