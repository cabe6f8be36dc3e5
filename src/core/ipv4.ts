// IPv4 addresses as unsigned 32-bit numbers, and the notations clients use
// for them: an address, a CIDR block, or a range `a-b`.

export function parseIPv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1)) >>> 0;
}

export function maskAddress(value: number, prefix: number): number {
  return (value & prefixMask(prefix)) >>> 0;
}

export interface Cidr {
  network: number;
  prefix: number;
}

/** `a.b.c.d/n`, the address masked to its network. */
export function parseCidr(text: string): Cidr | undefined {
  const [address, bits, extra] = text.split("/");
  if (extra !== undefined || bits === undefined || !/^\d{1,2}$/.test(bits)) return undefined;
  const prefix = Number(bits);
  const value = parseIPv4(address);
  if (value === undefined || prefix > 32) return undefined;
  return { network: maskAddress(value, prefix), prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIPv4(cidr.network)}/${cidr.prefix}`;
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  return maskAddress(address, cidr.prefix) === cidr.network;
}

/** Whether two networks share an address (one holds the other). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return maskAddress(a.network, prefix) === maskAddress(b.network, prefix);
}

/** A NetOut destination as the client wrote it. */
export type NetworkSpec =
  | { kind: "address"; address: string }
  | { kind: "cidr"; cidr: string }
  | { kind: "range"; start: string; end: string };

export function parseNetworkSpec(text: string): NetworkSpec | undefined {
  if (text.includes("/")) {
    const cidr = parseCidr(text);
    return cidr ? { kind: "cidr", cidr: formatCidr(cidr) } : undefined;
  }
  if (text.includes("-")) {
    const [a, b, extra] = text.split("-");
    const start = parseIPv4(a);
    const end = parseIPv4(b ?? "");
    if (extra !== undefined || start === undefined || end === undefined || start > end) return undefined;
    return { kind: "range", start: formatIPv4(start), end: formatIPv4(end) };
  }
  const value = parseIPv4(text);
  return value === undefined ? undefined : { kind: "address", address: formatIPv4(value) };
}
