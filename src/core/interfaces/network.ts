// A container's network: its /30, forwards into it, egress rules out of it,
// and a bandwidth limit.
import type { Duplex } from "node:stream";
import type { NetworkSpec } from "../ipv4.js";
import type { IdMap } from "./id-map.js";

/** A container's /30: the host's side (.1) and the container's (.2). */
export interface ContainerNetwork {
  subnet: string;
  hostIp: string;
  containerIp: string;
}

/**
 * The network of a container in the host's network namespace: no /30 of
 * the pool, no interfaces or rules of its own; it reaches the host (and its
 * DNS resolver) on loopback.
 */
export const HOST_NETWORK: ContainerNetwork = Object.freeze({ subnet: "host", hostIp: "127.0.0.1", containerIp: "127.0.0.1" });

export function isHostNetwork(network: ContainerNetwork): boolean {
  return network.subnet === HOST_NETWORK.subnet;
}

/**
 * What the runtime needs to put the container on its network. Opaque to the
 * core: made by the Network, read by the Runtime, both of the same machine.
 */
export type NetworkAttachment = Readonly<Record<string, string>>;

export interface NetInRule {
  hostPort: number;
  containerPort: number;
}

export type NetOutProtocol = "tcp" | "udp" | "icmp" | "all";

export interface PortRange {
  from: number;
  to: number;
}

/** One egress rule: a protocol, optionally one destination and one port range (TCP, UDP) or ICMP type and code. */
export interface NetOutRule {
  network?: NetworkSpec;
  ports?: PortRange;
  protocol: NetOutProtocol;
  icmpType?: number;
  icmpCode?: number;
  log: boolean;
}

/** Bytes per second and bytes, both ways. */
export interface BandwidthLimit {
  rate: number;
  burst: number;
}

export interface BandwidthStat {
  inRate: number;
  inBurst: number;
  outRate: number;
  outBurst: number;
}

/** Traffic through a container's interface, as the container sees it (received: what came in). */
export interface TrafficStats {
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDropped: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDropped: bigint;
}

/** What the daemon knows of a container's network when removing it. */
export interface KnownNetworkRules {
  network: ContainerNetwork;
  netIns: NetInRule[];
  netOut: boolean;
}

export interface Network {
  /** The networks the host routes now ("a.b.c.d/n"): a new container's /30 must not be one of them. */
  hostRoutes?(): Promise<string[]>;
  /** Makes the container's network, wired to the host; returns what the runtime joins. */
  /**
   * A privileged container's namespace is made without a user namespace; one
   * with a map of its own, in a user namespace with that map.
   */
  create(id: string, network: ContainerNetwork, options?: { privileged?: boolean; idMap?: IdMap }): Promise<NetworkAttachment>;
  /**
   * Removes all of it: interfaces, firewall rules, forwards. Idempotent;
   * without `known` (a leftover) it looks for everything.
   */
  destroy(id: string, known?: KnownNetworkRules): Promise<void>;
  netIn(id: string, network: ContainerNetwork, rule: NetInRule): Promise<void>;
  netOut(id: string, rule: NetOutRule): Promise<void>;
  /** Sets the limit and answers with what the kernel then holds (read back once: only we change it). */
  limitBandwidth(id: string, limit: BandwidthLimit): Promise<BandwidthStat>;
  /** The container's traffic so far. */
  traffic(id: string): Promise<TrafficStats>;
  /**
   * A TCP connection to `port` on the container's own loopback (the host's,
   * for a container on the host's network). A connection refused is an
   * 'error' of the stream.
   */
  connect(id: string, port: number, options?: { hostNetwork?: boolean }): Duplex;
  /** Applies a recovered container's forwards, egress rules and bandwidth limit again; idempotent. */
  restore(
    id: string,
    rules: { network: ContainerNetwork; netIns: NetInRule[]; netOuts: NetOutRule[]; bandwidth?: BandwidthLimit },
  ): Promise<void>;
  /** Removes what is ours but belongs to none of the live containers; returns their ids. */
  removeOrphans(live: ReadonlyMap<string, ContainerNetwork>): Promise<string[]>;
}
