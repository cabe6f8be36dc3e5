// Warden's NetOut and NetIn rules checked and normalized before anything is
// applied, so bad input never leaves a rule half-made.
import { errors } from "./errors.js";
import type { NetOutProtocol, NetOutRule } from "./interfaces.js";
import { parseNetworkSpec } from "./ipv4.js";

export interface NetOutRequest {
  network?: string;
  port?: number;
  portRange?: string;
  protocol?: NetOutProtocol;
  icmpType?: number;
  icmpCode?: number;
  log?: boolean;
}

function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw errors.invalid(`${what} ${port} is not a port (1-65535)`);
  return port;
}

function parsePortRange(text: string): { from: number; to: number } {
  const match = /^(\d+):(\d+)$/.exec(text);
  if (!match) throw errors.invalid(`Invalid port range: '${text}' (expected min:max)`);
  const from = checkPort(Number(match[1]), "port range minimum");
  const to = checkPort(Number(match[2]), "port range maximum");
  if (to <= from) throw errors.portRangeInverted();
  return { from, to };
}

// -1 means "any", as Warden's clients send it.
function icmpField(value: number | undefined, name: string): number | undefined {
  if (value === undefined || value === -1) return undefined;
  if (!Number.isInteger(value) || value < 0 || value > 255) throw errors.invalid(`${name} ${value} is not an ICMP ${name.split("_")[1]} (0-255, or -1 for any)`);
  return value;
}

export function netOutRule(request: NetOutRequest): NetOutRule {
  if (request.network === undefined && request.port === undefined && request.portRange === undefined) {
    throw errors.netOutTargetMissing();
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
    const port = checkPort(request.port, "port");
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

export function hostPort(port: number): number {
  return checkPort(port, "host_port");
}

export function containerPort(port: number): number {
  return checkPort(port, "container_port");
}

// tc keeps burst in 32 bits; a rate beyond a terabyte per second is a typo.
const MAX_RATE = 2 ** 40;
const MAX_BURST = 2 ** 32 - 1;

export function bandwidthLimit(rate: number, burst: number): { rate: number; burst: number } {
  if (!Number.isSafeInteger(rate) || rate < 1 || rate > MAX_RATE) throw errors.invalid(`rate ${rate} must be between 1 and ${MAX_RATE} bytes per second`);
  if (!Number.isSafeInteger(burst) || burst < 1 || burst > MAX_BURST) throw errors.invalid(`burst ${burst} must be between 1 and ${MAX_BURST} bytes`);
  return { rate, burst };
}
