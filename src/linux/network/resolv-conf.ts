// The container's /etc/resolv.conf, as Warden's setup.sh made it: the
// configured dns_servers, or else the host's own file, with a resolver on
// the host's loopback (unreachable from the container) replaced by the
// container's gateway, the host side of its /30.
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
