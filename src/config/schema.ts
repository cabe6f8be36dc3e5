// The daemon's configuration: Warden's YAML keys (reference §3) where they
// apply, and a few of ours. Every key has a default, so the daemon starts
// without a file. Unknown keys are refused: a typo must not silently do nothing.
import { z } from "zod";
import { RLIMIT_NAMES } from "../core/rlimits.js";
import { parseCidr, parseIPv4 } from "../core/ipv4.js";

const absolutePath = z.string().refine((p) => p.startsWith("/"), { message: "must be an absolute path" });
const nonNegativeInt = z.number().int().nonnegative();
const positiveInt = z.number().int().positive();
const uint64 = z.union([nonNegativeInt, z.bigint().nonnegative()]).transform((v) => BigInt(v));

const rlimitsShape = Object.fromEntries(RLIMIT_NAMES.map((n) => [n, uint64.optional()])) as Record<
  (typeof RLIMIT_NAMES)[number],
  z.ZodOptional<typeof uint64>
>;

export const serverSchema = z
  .strictObject({
    unix_domain_path: absolutePath.default("/tmp/warden.sock"),
    // Octal in the file (0755), as Warden's YAML 1.1 reads it.
    unix_domain_permissions: z.number().int().min(0).max(0o7777).default(0o600),
    container_klass: z.string().optional(),
    container_grace_time: nonNegativeInt.nullable().default(300),
    container_rootfs_path: absolutePath.default("/var/lib/warden/rootfs"),
    container_depot_path: absolutePath.default("/var/lib/warden/containers"),
    container_rlimits: z.strictObject(rlimitsShape).prefault({}),
    container_limits_conf: z.unknown().optional(),
    job_output_limit: positiveInt.default(10 * 1024 * 1024),
    quota: z
      .strictObject({
        disk_quota_enabled: z.boolean().default(true),
        // Ours: when the depot is not btrfs, a sparse btrfs image mounted on it (default <depot>.btrfs).
        image_path: absolutePath.optional(),
        image_size: positiveInt.default(64 * 1024 ** 3),
      })
      .prefault({}),
    /** Most processes a container may have, so a fork bomb stays inside it; 0: no limit. */
    container_pids_limit: nonNegativeInt.default(1024),
    allow_nested_warden: z.boolean().default(false),
    pidfile: absolutePath.optional(),
    syslog_socket: absolutePath.optional(),
    // Ours:
    /** The OCI runtime: crun (default) or runc. */
    runtime: z.enum(["crun", "runc"]).default("crun"),
    runtime_path: absolutePath.optional(),
    conmon_path: absolutePath.default("/usr/bin/conmon"),
    /** Supervises each process of a container (built from src/shim); default: the one built with the daemon. */
    shim_path: absolutePath.optional(),
    /**
     * PID 1 of containers (static: it runs in any root filesystem); default: warden-init, built with
     * the daemon, which also starts the container's processes. Another (catatonit) only reaps, and
     * every process then goes through the runtime's exec.
     */
    init_path: absolutePath.optional(),
    /** A static busybox, bind-mounted read-only into containers for CopyIn and CopyOut. */
    copy_helper_path: absolutePath.default("/usr/bin/busybox"),
    /** Runtime state, the pinned mount namespace, conmon's socket links. */
    run_path: absolutePath.default("/run/warden"),
    /** cgroups are made at /<cgroup_parent>/<id> in every hierarchy. */
    cgroup_parent: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, { message: "must be a single directory name" })
      .default("warden"),
    /** Connections open at once; one more is answered with an error and closed. */
    max_connections: positiveInt.default(1024),
    /** Requests received and not yet answered, over all connections; one more is answered with an error. */
    max_requests_in_flight: positiveInt.default(4096),
    /** Largest request frame accepted; a bigger length prefix closes the connection. */
    max_frame_bytes: positiveInt.default(16 * 1024 * 1024),
    /** Seconds a drain (SIGTERM, SIGINT, SIGUSR2) waits for requests under way before it cuts them. */
    drain_timeout: positiveInt.default(30),
    /** Seconds between TERM and KILL on Stop. */
    stop_timeout: nonNegativeInt.default(10),
    /** The admin channel (images) for `warden image`; default: unix_domain_path + ".admin", same permissions. */
    admin_unix_domain_path: absolutePath.optional(),
  });

const loggingSchema = z.strictObject({
  level: z.enum(["all", "debug2", "debug1", "debug", "info", "warn", "error", "fatal", "off"]).default("info"),
  file: absolutePath.optional(),
  syslog: z.string().optional(),
});

const userSchema = z.strictObject({
  pool_start_uid: nonNegativeInt.default(10000),
  pool_size: positiveInt.default(256),
});

const ipv4 = z.string().refine((s) => parseIPv4(s) !== undefined, { message: "must be an IPv4 address" });
const cidr = z.string().refine((s) => parseCidr(s) !== undefined, { message: "must be a CIDR block like 10.254.0.0/22" });
const addressOrCidr = z
  .string()
  .refine((s) => parseIPv4(s) !== undefined || parseCidr(s) !== undefined, { message: "must be an address or a CIDR block" });

const networkSchema = z
  .strictObject({
    /** The pool as a CIDR; or pool_start_address with pool_size, a count of /30 blocks. */
    pool_network: cidr.optional(),
    pool_start_address: ipv4.optional(),
    pool_size: positiveInt.optional(),
    /** Seconds a released /30 is held back before it is handed out again. */
    release_delay: z.number().nonnegative().default(5),
    mtu: z.number().int().min(68).max(65535).default(1500),
    allow_networks: z.array(addressOrCidr).default([]),
    allow_host_access: z.boolean().default(false),
    dns_servers: z.array(ipv4).default([]),
    deny_networks: z.unknown().optional(),
    // Ours: the nftables table (inet family) holding every rule of this daemon.
    nft_table: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, { message: "must be a short name of letters, digits, '-' and '_'" })
      .default("warden"),
  })
  .refine((n) => (n.pool_start_address === undefined) === (n.pool_size === undefined), {
    message: "pool_start_address and pool_size go together",
    path: ["pool_size"],
  });

const portSchema = z.strictObject({
  pool_start_port: z.number().int().min(1).max(65535).optional(),
  pool_size: positiveInt.optional(),
});

// Ours: how far a container is kept from the host.
const securitySchema = z
  .strictObject({
    /** Container root is an unprivileged host uid; false keeps Warden's way (container root is host root). */
    user_namespace: z.boolean().default(true),
    /** Host uid (and gid) of container root; container id n is uid_map_start + n. */
    uid_map_start: z.number().int().min(65536).max(2 ** 32 - 2).default(1_000_000_000),
    uid_map_size: z.number().int().min(1024).max(2 ** 32 - 65537).default(65536),
    /**
     * Root in a container may open raw sockets (CAP_NET_RAW, as Docker and Guardian give it): BusyBox's
     * ping needs them. Confined to the container's network namespace; off by default.
     */
    allow_net_raw: z.boolean().default(false),
    /** A seccomp profile in Podman's format; "" runs containers without one. */
    seccomp_profile: z.union([absolutePath, z.literal("")]).default("/usr/share/containers/seccomp.json"),
  })
  .refine((s) => s.uid_map_start + s.uid_map_size <= 2 ** 32 - 1, {
    message: "uid_map_start + uid_map_size must stay below 4294967295",
    path: ["uid_map_size"],
  });

const registryUrl = z.string().refine((s) => /^https?:\/\/[^/\s]+(\/[^\s]*)?$/.test(s), { message: "must be an http:// or https:// URL" });

// Ours: where images come from and how they are kept.
const imagesSchema = z.strictObject({
  /** A registry's name (docker.io, registry.k8s.io) to mirror URLs tried before it, in order. */
  mirrors: z.record(z.string(), z.array(registryUrl)).default({}),
  /** Registries reached over plain HTTP besides loopback (host or host:port). */
  insecure_registries: z.array(z.string()).default([]),
  /** PEM certificates trusted besides the system's. */
  ca_file: absolutePath.optional(),
  /** Seconds a registry may stay silent in the middle of an answer. */
  timeout: positiveInt.default(60),
  /** Layers fetched at once per image. */
  concurrent_downloads: z.number().int().min(1).max(32).default(4),
  /** Most layers stacked as they are; the lowest of deeper images are flattened into one. */
  max_layers: z.number().int().min(2).max(200).default(120),
  /** Default: <container_depot_path>/.images. */
  store_path: absolutePath.optional(),
});

const healthCheckSchema = z.strictObject({ port: z.number().int().min(0).max(65535).optional() });
// Garden's HTTP API, keys named after Guardian's flags.
const gardenSchema = z.strictObject({
  /** A unix socket; default: garden.sock beside server.unix_domain_path; "" for none. */
  bind_socket: z.union([absolutePath, z.literal("")]).optional(),
  /** TCP, off unless bind_port is set: the API has no authentication. */
  bind_ip: ipv4.default("127.0.0.1"),
  bind_port: z.number().int().min(1).max(65535).optional(),
  /** Privileged containers (no user namespace: container root is host root) are refused unless true. */
  allow_privileged: z.boolean().default(false),
});

// Kubernetes' CRI (gRPC) on a unix socket, for a kubelet, crictl or critest; off unless a socket is named.
const criSchema = z.strictObject({
  socket: absolutePath.optional(),
  /** Where Exec, Attach and PortForward's streaming server listens (its URLs name it); port 0: one the kernel picks. */
  stream_ip: ipv4.default("127.0.0.1"),
  stream_port: z.number().int().min(0).max(65535).default(0),
});

// Ours: Prometheus text on 127.0.0.1:<port>/metrics.
const metricsSchema = z.strictObject({ port: z.number().int().min(0).max(65535).optional() });

export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  logging: loggingSchema.prefault({}),
  user: userSchema.prefault({}),
  network: networkSchema.prefault({}),
  port: portSchema.prefault({}),
  health_check_server: healthCheckSchema.prefault({}),
  metrics: metricsSchema.prefault({}),
  security: securitySchema.prefault({}),
  images: imagesSchema.prefault({}),
  garden: gardenSchema.prefault({}),
  cri: criSchema.prefault({}),
}).refine(
  (c) => !c.security.user_namespace || c.user.pool_start_uid + c.user.pool_size <= c.security.uid_map_size,
  { message: "the user pool (pool_start_uid + pool_size) must fit in security.uid_map_size", path: ["user", "pool_size"] },
);

export type Config = z.infer<typeof configSchema>;
