// The core's Network on Linux: namespaces and veths (links.ts), the nftables
// firewall (nftables.ts), bandwidth (shaper.ts).
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import type { Duplex } from "node:stream";
import { join } from "node:path";
import type { Logger } from "../../core/interfaces/logger.js";
import type {
  BandwidthLimit,
  BandwidthStat,
  ContainerNetwork,
  KnownNetworkRules,
  Network,
  NetworkAttachment,
  NetInRule,
  NetOutRule,
  TrafficStats,
} from "../../core/interfaces/network.js";
import { CommandError, type CommandRunner } from "../command.js";
import type { IdMap } from "../security/id-map.js";
import { hostRoutes } from "./host-routes.js";
import { NamespacedLinks } from "./links.js";
import { NftBatcher } from "./nft-batch.js";
import { hostInterface, idOfChain } from "./names.js";
import { baseRuleset, netInScript, netOutScript, removeScript, restoreScript, type FirewallConfig } from "./nftables.js";
import { relayConnection } from "./relay-connection.js";
import { Shaper } from "./shaper.js";

export interface LinuxNetworkOptions {
  netnsDir: string;
  mtu: number;
  /**
   * Containers in a user namespace (the daemon's map, or one of their own):
   * their network namespaces are made inside it, pinned in dir. `helper`:
   * warden-netns, which makes them.
   */
  userns?: { map?: IdMap; dir: string; helper: string };
  firewall: Omit<FirewallConfig, "externalAddresses">;
  log: Logger;
  commands: CommandRunner;
  /** warden-relay (src/shim/warden-relay.c): connections to a container's own loopback. */
  relayPath?: string;
}


interface NftJson {
  nftables: Array<{
    chain?: { name: string };
    map?: { name: string; elem?: Array<[number, { concat: [string, number] }]> };
  }>;
}

/** The address the host reaches the world from: where NetIn listens, as Warden's `ip route get`. */
export async function externalAddresses(commands: CommandRunner): Promise<string[]> {
  try {
    const { stdout } = await commands.run(["ip", "-j", "route", "get", "1.2.3.4"]);
    const routes = JSON.parse(stdout) as Array<{ prefsrc?: string }>;
    return routes.map((r) => r.prefsrc).filter((a): a is string => !!a);
  } catch {
    return [];
  }
}

export class LinuxNetwork implements Network {
  readonly links: NamespacedLinks;
  private readonly shaper: Shaper;
  private readonly batcher: NftBatcher;

  constructor(private readonly options: LinuxNetworkOptions) {
    const { commands } = options;
    this.links = new NamespacedLinks(options.netnsDir, options.mtu, commands, options.userns);
    this.shaper = new Shaper(options.mtu, commands);
    this.batcher = new NftBatcher((script) => commands.run(["nft", "-f", "-"], { input: script }));
  }

  private get table(): string {
    return this.options.firewall.table;
  }

  private nft(script: string): Promise<unknown> {
    return this.batcher.run(script);
  }

  /** Forwarding on, and the table's shared chains (re)written. */
  async setUp(): Promise<void> {
    await writeFile("/proc/sys/net/ipv4/ip_forward", "1\n");
    const external = await externalAddresses(this.options.commands);
    if (external.length === 0) this.options.log.warn({}, "no default route: NetIn ports are reachable from nowhere");
    await this.nft(baseRuleset({ ...this.options.firewall, externalAddresses: external }));
  }

  async tearDown(): Promise<void> {
    try {
      await this.options.commands.run(["nft", "delete", "table", "inet", this.table]);
    } catch (err) {
      if (!(err instanceof CommandError && /No such file/.test(err.stderr))) throw err;
    }
  }

  hostRoutes(): Promise<string[]> {
    return hostRoutes();
  }

  create(id: string, network: ContainerNetwork, options?: { privileged?: boolean; idMap?: IdMap }): Promise<NetworkAttachment> {
    return this.links.create(id, network, options?.privileged, options?.idMap);
  }

  async destroy(id: string, known?: KnownNetworkRules): Promise<void> {
    // Nothing of the container is in the firewall unless it asked for NetIn or NetOut.
    if (!known || known.netOut || known.netIns.length > 0) {
      const netIns = (known?.netIns ?? []).map((r) => ({ ...r, containerIp: known!.network.containerIp }));
      await this.nft(removeScript(this.table, id, netIns));
    }
    await this.links.destroy(id);
  }

  async netIn(id: string, network: ContainerNetwork, rule: NetInRule): Promise<void> {
    await this.nft(netInScript(this.table, network.containerIp, rule));
    // A connection the host makes to 127.0.0.1:<port> leaves through this interface with its loopback source.
    await writeFile(`/proc/sys/net/ipv4/conf/${hostInterface(id)}/route_localnet`, "1\n").catch((err: Error) =>
      this.options.log.warn({ id, err: err.message }, "NetIn ports stay unreachable on 127.0.0.1 from the host"),
    );
  }

  async netOut(id: string, rule: NetOutRule): Promise<void> {
    await this.nft(netOutScript(this.table, id, rule));
  }

  async limitBandwidth(id: string, limit: BandwidthLimit): Promise<BandwidthStat> {
    await this.shaper.limit(id, limit);
    return this.shaper.stat(id);
  }

  connect(id: string, port: number, options: { hostNetwork?: boolean } = {}): Duplex {
    if (options.hostNetwork) return netConnect({ host: "127.0.0.1", port });
    if (!this.options.relayPath) throw new Error("this daemon has no warden-relay to reach a container's loopback");
    // Spawned, not through the command runner: its standard streams are the connection, for as long as it lasts.
    return relayConnection(spawn(this.options.relayPath, [this.links.pinOf(id), String(port)], { stdio: ["pipe", "pipe", "pipe"] }));
  }

  // The host's end of the pair counts the other way round: what it sent, the container received.
  async traffic(id: string): Promise<TrafficStats> {
    const dir = `/sys/class/net/${hostInterface(id)}/statistics`;
    const read = async (name: string) => BigInt((await readFile(join(dir, name), "utf8").catch(() => "0")).trim() || "0");
    return {
      rxBytes: await read("tx_bytes"),
      rxPackets: await read("tx_packets"),
      rxErrors: await read("tx_errors"),
      rxDropped: await read("tx_dropped"),
      txBytes: await read("rx_bytes"),
      txPackets: await read("rx_packets"),
      txErrors: await read("rx_errors"),
      txDropped: await read("rx_dropped"),
    };
  }

  async restore(
    id: string,
    rules: { network: ContainerNetwork; netIns: NetInRule[]; netOuts: NetOutRule[]; bandwidth?: BandwidthLimit },
  ): Promise<void> {
    const script = restoreScript(this.table, id, rules.network.containerIp, rules.netIns, rules.netOuts);
    if (script) await this.nft(script);
    if (rules.bandwidth) await this.shaper.limit(id, rules.bandwidth);
  }

  /** Removes namespaces, chains and forwards of ours that belong to no live container. */
  async removeOrphans(live: ReadonlyMap<string, ContainerNetwork>): Promise<string[]> {
    const orphans = new Set<string>();
    for (const id of await this.links.pinned()) if (!live.has(id)) orphans.add(id);
    const { stdout } = await this.options.commands.run(["nft", "-j", "list", "table", "inet", this.table]);
    const table = JSON.parse(stdout) as NftJson;
    for (const item of table.nftables) {
      const id = item.chain ? idOfChain(item.chain.name) : undefined;
      if (id && !live.has(id)) orphans.add(id);
    }
    for (const id of orphans) await this.destroy(id);
    const liveIps = new Set([...live.values()].map((n) => n.containerIp));
    const netin = table.nftables.find((i) => i.map?.name === "netin")?.map?.elem ?? [];
    const stale = netin.filter(([, target]) => !liveIps.has(target.concat[0])).map(([port]) => port);
    if (stale.length > 0) await this.nft(`delete element inet ${this.table} netin { ${stale.join(", ")} }\n`);
    return [...orphans];
  }
}
