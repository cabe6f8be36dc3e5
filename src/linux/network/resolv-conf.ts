// The container's /etc/resolv.conf, as Warden's setup.sh made it: the
// configured dns_servers, or else the host's own file, with a resolver on
// the host's loopback (unreachable from the container) replaced by the
// container's gateway, the host side of its /30.
import type { DnsConfig } from "../../core/container/spec.js";
export function resolvConf(hostResolvConf: string, dnsServers: string[], hostIp: string): string {
  if (dnsServers.length > 0) return dnsServers.map((s) => `nameserver ${s}\n`).join("");
  let replaced = false;
  const lines: string[] = [];
  for (const line of hostResolvConf.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && /^127\./.test(m[1])) {
      if (!replaced) lines.push(`nameserver ${hostIp}`);
      replaced = true;
    } else if (line !== "" || lines.length > 0) {
      lines.push(line);
    }
  }
  const text = lines.join("\n").replace(/\n*$/, "\n");
  return text === "\n" ? "" : text;
}

/** A container's own resolv.conf: its servers, search domains and options, as given. */
export function dnsResolvConf(dns: DnsConfig): string {
  const lines = dns.servers.map((s) => `nameserver ${s}`);
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(" ")}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(" ")}`);
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}
