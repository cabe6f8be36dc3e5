// Warden's NetOut request: a network as an address, CIDR or range a-b, a
// port or a port range "min:max", a protocol, ICMP type and code (-1 for
// any), with Warden's checks and texts.
import { errors } from "../../core/errors.js";
import type { NetOutProtocol, NetOutRule } from "../../core/interfaces/network.js";
import { parseNetworkSpec } from "../../core/ipv4.js";

export interface NetOutRequest {
  network?: string;
  port?: number;
  portRange?: string;
  protocol?: NetOutProtocol;
  icmpType?: number;
  icmpCode?: number;
  log?: boolean;
}

export function checkWirePort(port: number, field: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw errors.invalid(`${field} ${port} is not a port (1-65535)`);
  return port;
}

function parsePortRange(text: string): { from: number; to: number } {
  const match = /^(\d+):(\d+)$/.exec(text);
  if (!match) throw errors.invalid(`Invalid port range: '${text}' (expected min:max)`);
  const from = checkWirePort(Number(match[1]), "port range minimum");
  const to = checkWirePort(Number(match[2]), "port range maximum");
  if (to <= from) throw errors.invalid("Port range maximum must be greater than minimum");
  return { from, to };
}

function icmpField(value: number | undefined, name: string): number | undefined {
  if (value === undefined || value === -1) return undefined;
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw errors.invalid(`${name} ${value} is not an ICMP ${name.split("_")[1]} (0-255, or -1 for any)`);
  }
  return value;
}

export function netOutRule(request: NetOutRequest): NetOutRule {
  if (request.network === undefined && request.port === undefined && request.portRange === undefined) {
    throw errors.invalid("Please specify network, port, and/or port_range.");
  }
  const protocol = request.protocol ?? "tcp";
  const rule: NetOutRule = { protocol, log: request.log ?? false };
  if (request.network !== undefined) {
    const spec = parseNetworkSpec(request.network);
    if (!spec) throw errors.invalid(`Invalid network: '${request.network}' (expected an address, a CIDR block or a range a-b)`);
    rule.network = spec;
  }
  // port_range wins over port, as in Warden.
  if (request.portRange !== undefined) rule.ports = parsePortRange(request.portRange);
  else if (request.port !== undefined) {
    const port = checkWirePort(request.port, "port");
    rule.ports = { from: port, to: port };
  }
  if (rule.ports && protocol !== "tcp" && protocol !== "udp") {
    throw errors.invalid(`port and port_range apply to TCP and UDP, not to ${protocol.toUpperCase()}`);
  }
  const icmpType = icmpField(request.icmpType, "icmp_type");
  const icmpCode = icmpField(request.icmpCode, "icmp_code");
  if ((icmpType !== undefined || icmpCode !== undefined) && protocol !== "icmp") {
    throw errors.invalid("icmp_type and icmp_code apply to ICMP only");
  }
  // The code means something only with a type.
  if (icmpType !== undefined) {
    rule.icmpType = icmpType;
    if (icmpCode !== undefined) rule.icmpCode = icmpCode;
  }
  return rule;
}
