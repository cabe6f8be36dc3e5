// Warden's container ids: a microsecond timestamp taken once, plus one per
// container, written as 11 base-32 digits (0-9a-v), 5 bits each from bit 54
// down. Eleven characters keep `w-<id>-N` within the 15 bytes of an
// interface name.

const ALPHABET = "0123456789abcdefghijklmnopqrstuv";
export const CONTAINER_ID_LENGTH = 11;

export function encodeContainerId(value: bigint): string {
  let out = "";
  for (let shift = 50n; shift >= 0n; shift -= 5n) {
    out += ALPHABET[Number((value >> shift) & 31n)];
  }
  return out;
}

export function decodeContainerId(id: string): bigint | undefined {
  if (id.length !== CONTAINER_ID_LENGTH) return undefined;
  let value = 0n;
  for (const ch of id) {
    const digit = ALPHABET.indexOf(ch);
    if (digit < 0) return undefined;
    value = (value << 5n) | BigInt(digit);
  }
  return value;
}

export function isContainerId(id: string): boolean {
  return decodeContainerId(id) !== undefined;
}

export class ContainerIdGenerator {
  private next: bigint | undefined;

  constructor(private readonly nowMicros: () => bigint = defaultNowMicros) {}

  /** Never hands out an id twice, nor one below `floor` (ids recovered from the depot). */
  generate(floor?: bigint): string {
    if (this.next === undefined) this.next = this.nowMicros();
    if (floor !== undefined && this.next <= floor) this.next = floor + 1n;
    const id = encodeContainerId(this.next);
    this.next += 1n;
    return id;
  }
}

function defaultNowMicros(): bigint {
  return BigInt(Date.now()) * 1000n + (process.hrtime.bigint() / 1000n) % 1000n;
}
