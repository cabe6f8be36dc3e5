// The firewall, in an nftables table of our own: it never touches a chain we
// did not make. One batch (`nft -f`) per operation, applied atomically.
//
// Traffic from our containers is told by its source address (the pool);
// an anti-spoofing rule drops what a container sends with an address not
// routed back through its own interface, so the source can be trusted.
// Per packet the cost does not grow with the number of containers: a
// container's NetOut rules are reached through a verdict map keyed by
// interface, and NetIn through a NAT map keyed by host port.
import type { NetInRule, NetOutRule } from "../../core/interfaces/network.js";
import { egressChain, hostInterface } from "./names.js";

export interface FirewallConfig {
  table: string;
  /** The container network pool, CIDR. */
  pool: string;
  allowNetworks: string[];
  allowHostAccess: boolean;
  /** Host addresses on which NetIn ports are forwarded. */
  externalAddresses: string[];
}

// Blocked traffic is told it is prohibited (EHOSTUNREACH to the sender),
// unlike a closed port (ECONNREFUSED).
const REJECT = "reject with icmpx type admin-prohibited";

const quote = (name: string) => JSON.stringify(name);

/** The whole table's shared part. Idempotent: rules of base chains are replaced, per-container parts kept. */
export function baseRuleset(config: FirewallConfig): string {
  const t = `inet ${config.table}`;
  const chain = (name: string, spec: string, rules: string[]) => [
    `add chain ${t} ${name} { ${spec}; }`,
    `flush chain ${t} ${name}`,
    ...rules.map((r) => `add rule ${t} ${name} ${r}`),
  ];
  const pool = config.pool;
  return [
    `add table ${t}`,
    `add map ${t} dispatch { type ifname : verdict; }`,
    `add map ${t} netin { type inet_service : ipv4_addr . inet_service; }`,
    `add set ${t} allow { type ipv4_addr; flags interval; }`,
    `flush set ${t} allow`,
    ...(config.allowNetworks.length ? [`add element ${t} allow { ${config.allowNetworks.join(", ")} }`] : []),
    `add set ${t} external { type ipv4_addr; }`,
    `flush set ${t} external`,
    ...(config.externalAddresses.length ? [`add element ${t} external { ${config.externalAddresses.join(", ")} }`] : []),
    ...chain("antispoof", "type filter hook prerouting priority raw; policy accept", [
      `iifname "w-*" meta nfproto ipv6 drop`,
      `iifname "w-*" fib saddr . iif oif missing drop`,
    ]),
    ...chain("forward", "type filter hook forward priority filter; policy accept", [
      `meta nfproto ipv6 accept`,
      `ip saddr != ${pool} accept`,
      `ct state established,related accept`,
      `iifname vmap @dispatch`,
      `ip daddr @allow accept`,
      REJECT,
    ]),
    ...chain("input", "type filter hook input priority filter; policy accept", [
      `meta nfproto ipv6 accept`,
      `ip saddr != ${pool} accept`,
      `ct state established,related accept`,
      ...(config.allowHostAccess ? ["accept"] : [REJECT]),
    ]),
    ...chain("prerouting", "type nat hook prerouting priority dstnat; policy accept", [
      `ip daddr @external dnat ip to tcp dport map @netin`,
    ]),
    // The host reaches its forwarded ports on its own addresses and on 127.0.0.1 (kube-proxy's
    // way too: the container's host interface routes loopback sources, route_localnet, and the
    // loopback source is masqueraded as the host's side of the container's /30).
    ...chain("output", "type nat hook output priority -100; policy accept", [
      `ip daddr @external dnat ip to tcp dport map @netin`,
      `ip daddr 127.0.0.1 dnat ip to tcp dport map @netin`,
    ]),
    ...chain("postrouting", "type nat hook postrouting priority srcnat; policy accept", [
      `ip saddr ${pool} ip daddr != ${pool} masquerade`,
      `ip saddr 127.0.0.0/8 ip daddr ${pool} masquerade`,
    ]),
    "",
  ].join("\n");
}

export function netOutMatch(rule: NetOutRule): string {
  const parts: string[] = [];
  const n = rule.network;
  if (n?.kind === "address") parts.push(`ip daddr ${n.address}`);
  else if (n?.kind === "cidr") parts.push(`ip daddr ${n.cidr}`);
  else if (n?.kind === "range") parts.push(`ip daddr ${n.start}-${n.end}`);
  if (rule.protocol === "tcp" || rule.protocol === "udp") {
    parts.push(`meta l4proto ${rule.protocol}`);
    if (rule.ports) {
      const ports = rule.ports.from === rule.ports.to ? `${rule.ports.from}` : `${rule.ports.from}-${rule.ports.to}`;
      parts.push(`${rule.protocol} dport ${ports}`);
    }
  } else if (rule.protocol === "icmp") {
    parts.push("meta l4proto icmp");
    if (rule.icmpType !== undefined) {
      parts.push(`icmp type ${rule.icmpType}`);
      if (rule.icmpCode !== undefined) parts.push(`icmp code ${rule.icmpCode}`);
    }
  }
  return parts.join(" ");
}

/**
 * Allows what the rule names; only new flows get here, so a logged rule logs
 * each connection once. The dispatch map must `jump`: a chain reached by
 * `goto` from a base chain ends in the base chain's policy (accept), not in
 * its next rule (the reject).
 */
export function netOutScript(table: string, id: string, rule: NetOutRule): string {
  const t = `inet ${table}`;
  const chain = egressChain(id);
  const verdict = rule.log ? `log prefix ${quote(`${chain} `)} accept` : "accept";
  return [
    `add chain ${t} ${chain}`,
    `add element ${t} dispatch { ${quote(hostInterface(id))} : jump ${chain} }`,
    `add rule ${t} ${chain} ${netOutMatch(rule)} ${verdict}`.replace(/\s+/g, " "),
    "",
  ].join("\n");
}

/** A container's forwards and egress rules as they should be, whatever the table holds now. */
export function restoreScript(table: string, id: string, containerIp: string, netIns: NetInRule[], netOuts: NetOutRule[]): string {
  const t = `inet ${table}`;
  const chain = egressChain(id);
  const lines = netIns.map((r) => `add element ${t} netin { ${r.hostPort} : ${containerIp} . ${r.containerPort} }`);
  if (netOuts.length > 0) {
    lines.push(`add chain ${t} ${chain}`, `flush chain ${t} ${chain}`, `add element ${t} dispatch { ${quote(hostInterface(id))} : jump ${chain} }`);
    for (const rule of netOuts) {
      const verdict = rule.log ? `log prefix ${quote(`${chain} `)} accept` : "accept";
      lines.push(`add rule ${t} ${chain} ${netOutMatch(rule)} ${verdict}`.replace(/\s+/g, " "));
    }
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}

export function netInScript(table: string, containerIp: string, rule: NetInRule): string {
  return `add element inet ${table} netin { ${rule.hostPort} : ${containerIp} . ${rule.containerPort} }\n`;
}

/**
 * Removes a container's chain and forwards. Each delete is preceded by an
 * add, so the batch succeeds whether or not they existed (nft 1.0.6 has no
 * "delete if present").
 */
export function removeScript(table: string, id: string, netIns: Array<NetInRule & { containerIp: string }>): string {
  const t = `inet ${table}`;
  const chain = egressChain(id);
  const iface = quote(hostInterface(id));
  return [
    `add chain ${t} ${chain}`,
    `add element ${t} dispatch { ${iface} : jump ${chain} }`,
    `delete element ${t} dispatch { ${iface} }`,
    `flush chain ${t} ${chain}`,
    `delete chain ${t} ${chain}`,
    ...netIns.flatMap((r) => [
      `add element ${t} netin { ${r.hostPort} : ${r.containerIp} . ${r.containerPort} }`,
      `delete element ${t} netin { ${r.hostPort} }`,
    ]),
    "",
  ].join("\n");
}
