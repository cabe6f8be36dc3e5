// The daemon's configuration: Warden's YAML keys (reference §3) where they
// apply, and a few of ours. Every key has a default, so the daemon starts
// without a file. Unknown keys are refused: a typo must not silently do nothing.
import { z } from "zod";
import { RLIMIT_NAMES } from "../core/interfaces.js";

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
    unix_domain_permissions: z.number().int().min(0).max(0o7777).default(0o755),
    container_klass: z.string().optional(),
    container_grace_time: nonNegativeInt.nullable().default(300),
    container_rootfs_path: absolutePath.default("/var/lib/warden/rootfs"),
    container_depot_path: absolutePath.default("/var/lib/warden/containers"),
    container_rlimits: z.strictObject(rlimitsShape).prefault({}),
    container_limits_conf: z.unknown().optional(),
    job_output_limit: positiveInt.default(10 * 1024 * 1024),
    quota: z.strictObject({ disk_quota_enabled: z.boolean().default(true) }).prefault({}),
    allow_nested_warden: z.boolean().default(false),
    pidfile: absolutePath.optional(),
    syslog_socket: absolutePath.optional(),
    // Ours:
    /** The OCI runtime: crun (default) or runc. */
    runtime: z.enum(["crun", "runc"]).default("crun"),
    runtime_path: absolutePath.optional(),
    conmon_path: absolutePath.default("/usr/bin/conmon"),
    init_path: absolutePath.default("/usr/bin/catatonit"),
    /** Runtime state, the pinned mount namespace, conmon's socket links. */
    run_path: absolutePath.default("/run/warden"),
    /** cgroups are made at /<cgroup_parent>/<id> in every hierarchy. */
    cgroup_parent: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, { message: "must be a single directory name" })
      .default("warden"),
    /** Largest request frame accepted; a bigger length prefix closes the connection. */
    max_frame_bytes: positiveInt.default(16 * 1024 * 1024),
    /** Seconds between TERM and KILL on Stop. */
    stop_timeout: nonNegativeInt.default(10),
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

// Read now so a Warden config is accepted as it is; used when networking lands.
const networkSchema = z.strictObject({
  pool_network: z.string().optional(),
  pool_start_address: z.string().optional(),
  pool_size: positiveInt.optional(),
  release_delay: z.number().nonnegative().optional(),
  mtu: positiveInt.optional(),
  allow_networks: z.array(z.string()).optional(),
  allow_host_access: z.boolean().optional(),
  dns_servers: z.array(z.string()).optional(),
});

const portSchema = z.strictObject({
  pool_start_port: positiveInt.optional(),
  pool_size: positiveInt.optional(),
});

const healthCheckSchema = z.strictObject({ port: z.number().int().min(0).max(65535).optional() });

export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  logging: loggingSchema.prefault({}),
  user: userSchema.prefault({}),
  network: networkSchema.prefault({}),
  port: portSchema.prefault({}),
  health_check_server: healthCheckSchema.prefault({}),
});

export type Config = z.infer<typeof configSchema>;
