// The pools a container takes from: a uid, a /30 network, host ports. What
// a create takes and fails with goes back; a recovered container claims what
// its record says it holds.
import type { Container } from "../container/container.js";
import { errors } from "../errors.js";
import { HOST_NETWORK, isHostNetwork, type ContainerNetwork } from "../interfaces/network.js";
import { overlaps, type Cidr } from "../ipv4.js";
import { Pool } from "../pool.js";
import { SubnetPool } from "../subnet-pool.js";

export interface AllocatorConfig {
  uidPoolStart: number;
  uidPoolSize: number;
  networkPool: Cidr;
  networkReleaseDelayMs: number;
  portPoolStart: number;
  portPoolSize: number;
}

export interface PoolUse {
  size: number;
  inUse: number;
}

export class Allocator {
  private readonly uids: Pool<number>;
  private readonly subnets: SubnetPool;
  private readonly ports: Pool<number>;
  /** Host ports forwarded, across containers, to the id of the container holding each. */
  private readonly forwarded = new Map<number, string>();

  constructor(config: AllocatorConfig) {
    this.uids = new Pool(Array.from({ length: config.uidPoolSize }, (_, i) => config.uidPoolStart + i));
    this.subnets = new SubnetPool(config.networkPool, config.networkReleaseDelayMs);
    this.ports = new Pool(Array.from({ length: config.portPoolSize }, (_, i) => config.portPoolStart + i));
  }

  /**
   * A network and a uid for a new container; nothing is kept when either is
   * missing. No /30 that overlaps one of `hostRoutes` (CIDRs the host routes,
   * more specific than the pool) is handed out.
   */
  acquire(network?: string, hostRoutes: readonly Cidr[] = [], hostNetwork = false): { uid: number; network: ContainerNetwork } {
    const routes = hostRoutes.filter((r) => r.prefix > this.subnets.cidr.prefix);
    const busy = (block: number) => routes.some((r) => overlaps(r, { network: block, prefix: 30 }));
    const net = hostNetwork ? HOST_NETWORK : network !== undefined ? this.subnets.acquireAddress(network, busy) : this.subnets.acquire(busy);
    const uid = this.uids.acquire();
    if (uid === undefined) {
      if (!hostNetwork) this.subnets.release(net);
      throw errors.uidPoolEmpty();
    }
    return { uid, network: net };
  }

  releaseContainer(uid: number, network: ContainerNetwork): void {
    this.uids.release(uid);
    if (!isHostNetwork(network)) this.subnets.release(network);
  }

  /** A host port: the one asked for (taken out of the pool when it is in it), or the pool's next. */
  acquirePort(containerId: string, hostPort?: number): { port: number; fromPool: boolean } {
    if (hostPort === undefined) {
      const port = this.ports.acquire();
      if (port === undefined) throw errors.portPoolEmpty();
      this.forwarded.set(port, containerId);
      return { port, fromPool: true };
    }
    if (this.forwarded.has(hostPort)) throw errors.hostPortTaken(hostPort);
    let fromPool = false;
    if (this.ports.contains(hostPort)) {
      if (!this.ports.acquireSpecific(hostPort)) throw errors.hostPortTaken(hostPort);
      fromPool = true;
    }
    this.forwarded.set(hostPort, containerId);
    return { port: hostPort, fromPool };
  }

  releasePort(port: number, fromPool: boolean): void {
    this.forwarded.delete(port);
    if (fromPool) this.ports.release(port);
  }

  /** Gives back everything a container held. */
  release(c: Container): void {
    for (const rule of c.netIns) this.releasePort(rule.hostPort, rule.fromPool);
    this.releaseContainer(c.uid, c.network);
  }

  /** Marks what a recovered container holds as taken; throws (taking nothing) when any of it is not free. */
  claim(c: Container): void {
    if (!this.uids.acquireSpecific(c.uid)) throw new Error(`uid ${c.uid} is taken or outside the pool`);
    if (!isHostNetwork(c.network) && !this.subnets.claim(c.network)) {
      this.uids.release(c.uid);
      throw new Error(`network ${c.network.subnet} is taken or outside the pool`);
    }
    for (const rule of c.netIns) {
      if (rule.fromPool) this.ports.acquireSpecific(rule.hostPort);
      this.forwarded.set(rule.hostPort, c.id);
    }
  }

  use(): Record<"networks" | "uids" | "ports", PoolUse> {
    return {
      networks: { size: this.subnets.size, inUse: this.subnets.inUse },
      uids: { size: this.uids.size, inUse: this.uids.inUse },
      ports: { size: this.ports.size, inUse: this.ports.inUse },
    };
  }
}
