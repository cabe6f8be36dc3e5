// The network and port sections resolved to what the daemon uses, with
// Warden's defaults: a /22 pool, and host ports from just above the
// kernel's ephemeral range up to 65000.
import { readFileSync } from "node:fs";
import { formatCidr, parseCidr, type Cidr } from "../core/ipv4.js";
import { poolCidr } from "../core/subnet-pool.js";
import { ConfigError } from "./load.js";
import type { Config } from "./schema.js";

export const DEFAULT_POOL = "10.254.0.0/22";
const MIN_PORTS = 1000;

export interface NetworkSettings {
  pool: Cidr;
  releaseDelayMs: number;
  portPoolStart: number;
  portPoolSize: number;
}

/** The top of /proc/sys/net/ipv4/ip_local_port_range, or undefined when unreadable. */
export function ephemeralMax(): number | undefined {
  try {
    const max = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[1]);
    return Number.isInteger(max) ? max : undefined;
  } catch {
    return undefined;
  }
}

export function networkSettings(config: Config, ephemeral: number | undefined = ephemeralMax()): NetworkSettings {
  const n = config.network;
  const pool =
    n.pool_network !== undefined
      ? parseCidr(n.pool_network)!
      : n.pool_start_address !== undefined
        ? poolCidr(n.pool_start_address, n.pool_size!)
        : parseCidr(DEFAULT_POOL)!;
  if (!pool || pool.prefix > 30) throw new ConfigError("network: the pool must hold at least one /30 block");
  const start = config.port.pool_start_port ?? (ephemeral ?? 61000) + 1;
  const size = config.port.pool_size ?? 65001 - start;
  if (size < MIN_PORTS) {
    throw new ConfigError(`Insufficient non-ephemeral ports available (expected >= ${MIN_PORTS}, got: ${size})`);
  }
  if (start + size - 1 > 65535) throw new ConfigError(`port: pool_start_port + pool_size goes past 65535`);
  return { pool, releaseDelayMs: n.release_delay * 1000, portPoolStart: start, portPoolSize: size };
}

export function describePool(settings: NetworkSettings): string {
  return formatCidr(settings.pool);
}
