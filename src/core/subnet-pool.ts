// The pool of container networks: a CIDR cut into /30 blocks, one per
// container. Of each block, .1 is the host's side and .2 the container's.
import { errors } from "./errors.js";
import type { ContainerNetwork } from "./interfaces/network.js";
import { formatIPv4, maskAddress, parseIPv4, type Cidr } from "./ipv4.js";
import { Pool, systemClock, type Clock } from "./pool.js";

const BLOCK = 4;

export function subnetOf(network: number): ContainerNetwork {
  return {
    subnet: `${formatIPv4(network)}/30`,
    hostIp: formatIPv4(network + 1),
    containerIp: formatIPv4(network + 2),
  };
}

/** Warden's pool_start_address + pool_size (a count of /30 blocks) as a CIDR. */
export function poolCidr(start: string, size: number): Cidr | undefined {
  const address = parseIPv4(start);
  if (address === undefined || size < 1) return undefined;
  const prefix = 32 - (Math.ceil(Math.log2(size)) + 2);
  if (prefix < 0) return undefined;
  return { network: maskAddress(address, prefix), prefix };
}

export class SubnetPool {
  private readonly pool: Pool<number>;

  constructor(
    readonly cidr: Cidr,
    releaseDelayMs: number,
    clock: Clock = systemClock,
  ) {
    const blocks = 2 ** (32 - cidr.prefix) / BLOCK;
    this.pool = new Pool(
      Array.from({ length: blocks }, (_, i) => cidr.network + i * BLOCK),
      releaseDelayMs,
      clock,
    );
  }

  get size(): number {
    return this.pool.size;
  }

  get inUse(): number {
    return this.pool.inUse;
  }

  /**
   * The next free block that `busy` (the host routes it already: another
   * daemon's leftover, a network of the host's) does not refuse; refused
   * ones go back, held back as released ones are.
   */
  acquire(busy: (network: number) => boolean = () => false): ContainerNetwork {
    const refused: number[] = [];
    try {
      for (;;) {
        const network = this.pool.acquire();
        if (network === undefined) throw errors.networkUnavailable();
        if (!busy(network)) return subnetOf(network);
        refused.push(network);
      }
    } finally {
      for (const network of refused) this.pool.release(network);
    }
  }

  /** The block holding `address` (masked to /30), when it is in the pool and free. */
  acquireAddress(address: string, busy: (network: number) => boolean = () => false): ContainerNetwork {
    const value = parseIPv4(address);
    if (value === undefined) throw errors.invalid(`Invalid network address: ${address}`);
    const network = maskAddress(value, 30);
    if (busy(network) || !this.pool.acquireSpecific(network)) throw errors.networkUnavailable(formatIPv4(network));
    return subnetOf(network);
  }

  /** Marks a block as in use (a container found again after a restart). */
  claim(network: ContainerNetwork): boolean {
    const value = parseIPv4(network.subnet.split("/")[0]);
    return value !== undefined && this.pool.acquireSpecific(value);
  }

  release(network: ContainerNetwork): void {
    const value = parseIPv4(network.subnet.split("/")[0]);
    if (value !== undefined) this.pool.release(value);
  }
}
