// Network rules checked before anything is applied, so bad input never
// leaves a rule half-made. The wire forms (Warden's "80:90", Garden's
// ranges) are each front end's to parse; these are the domain's checks.
import { errors } from "./errors.js";
import type { BandwidthLimit, NetOutRule } from "./interfaces/network.js";

export function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw errors.invalid(`${what} ${port} is not a port (1-65535)`);
  return port;
}

const PROTOCOLS = new Set(["tcp", "udp", "icmp", "all"]);

export function checkNetOutRule(rule: NetOutRule): void {
  if (!PROTOCOLS.has(rule.protocol)) throw errors.invalid(`unknown protocol ${String(rule.protocol)}`);
  if (rule.ports) {
    checkPort(rule.ports.from, "port range minimum");
    checkPort(rule.ports.to, "port range maximum");
    if (rule.ports.to < rule.ports.from) throw errors.invalid(`port range ${rule.ports.from}-${rule.ports.to} is inverted`);
    if (rule.protocol !== "tcp" && rule.protocol !== "udp") {
      throw errors.invalid(`ports apply to TCP and UDP, not to ${rule.protocol.toUpperCase()}`);
    }
  }
  for (const [name, value, max] of [["ICMP type", rule.icmpType, 255], ["ICMP code", rule.icmpCode, 255]] as const) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 0 || value > max) throw errors.invalid(`${name} ${value} is not 0-${max}`);
    if (rule.protocol !== "icmp") throw errors.invalid("an ICMP type and code apply to ICMP only");
  }
  if (rule.icmpCode !== undefined && rule.icmpType === undefined) throw errors.invalid("an ICMP code needs an ICMP type");
}

// tc keeps burst in 32 bits; a rate beyond a terabyte per second is a typo.
const MAX_RATE = 2 ** 40;
const MAX_BURST = 2 ** 32 - 1;

export function checkBandwidthLimit({ rate, burst }: BandwidthLimit): void {
  if (!Number.isSafeInteger(rate) || rate < 1 || rate > MAX_RATE) throw errors.invalid(`rate ${rate} must be between 1 and ${MAX_RATE} bytes per second`);
  if (!Number.isSafeInteger(burst) || burst < 1 || burst > MAX_BURST) throw errors.invalid(`burst ${burst} must be between 1 and ${MAX_BURST} bytes`);
}
