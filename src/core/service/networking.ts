// Forwards into a container, egress rules out of it, its bandwidth.
import type { Container } from "../container/container.js";
import { errors } from "../errors.js";
import { isHostNetwork, type BandwidthLimit, type NetInRule, type NetOutRule } from "../interfaces/network.js";
import { checkBandwidthLimit, checkNetOutRule, checkPort } from "../net-rules.js";
import type { ServiceContext } from "./context.js";

// A container on the host's network has nothing of its own to forward, filter or shape.
function assertOwnNetwork(c: Container, what: string): void {
  if (isHostNetwork(c.network)) throw errors.invalid(`container ${c.handle} is on the host's network: it has no ${what} of its own`);
}

export class NetworkingService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Forwards a host port to the container; without one a port comes from the pool, and the container port defaults to it. */
  async netIn(c: Container, request: Partial<NetInRule>): Promise<NetInRule> {
    assertOwnNetwork(c, "ports to forward");
    const hostPort = request.hostPort === undefined ? undefined : checkPort(request.hostPort, "host port");
    const containerPort = request.containerPort === undefined ? undefined : checkPort(request.containerPort, "container port");
    const { port, fromPool } = this.ctx.allocator.acquirePort(c.id, hostPort);
    const rule: NetInRule = { hostPort: port, containerPort: containerPort ?? port };
    try {
      await this.ctx.deps.network.netIn(c.id, c.network, rule);
    } catch (err) {
      this.ctx.allocator.releasePort(port, fromPool);
      throw err;
    }
    c.netIns.push({ ...rule, fromPool });
    await this.ctx.persist(c);
    this.ctx.logFor(c).info({ ...rule }, "port forwarded");
    return rule;
  }

  /** Allows egress by each rule, in order; all are checked before any is applied. */
  async netOut(c: Container, rules: NetOutRule[]): Promise<void> {
    assertOwnNetwork(c, "egress rules");
    for (const rule of rules) checkNetOutRule(rule);
    for (const rule of rules) {
      await this.ctx.deps.network.netOut(c.id, rule);
      c.netOuts.push(rule);
    }
    await this.ctx.persist(c);
    this.ctx.logFor(c).info({ rules }, "egress allowed");
  }

  async limitBandwidth(c: Container, limit: BandwidthLimit): Promise<BandwidthLimit> {
    assertOwnNetwork(c, "bandwidth to limit");
    checkBandwidthLimit(limit);
    c.bandwidthStat = await this.ctx.deps.network.limitBandwidth(c.id, limit);
    c.bandwidth = limit;
    await this.ctx.persist(c);
    this.ctx.logFor(c).info({ ...limit }, "bandwidth limited");
    return limit;
  }

  /** Applies a recovered container's forwards, egress rules and bandwidth limit again. */
  async restore(c: Container): Promise<void> {
    if (isHostNetwork(c.network)) return;
    return this.ctx.deps.network.restore(c.id, {
      network: c.network,
      netIns: c.netIns,
      netOuts: c.netOuts,
      bandwidth: c.bandwidth,
    });
  }
}
