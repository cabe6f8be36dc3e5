// The CRI's 64-bit fields (timestamps in nanoseconds past 2^53, byte counts)
// go out as Longs made from exact integers, never from a float.
import Long from "long";

/** Milliseconds since the epoch (a Date or Date.now()) as the CRI's nanoseconds. */
export function nanos(ms: number | Date): Long {
  const at = typeof ms === "number" ? ms : ms.getTime();
  return Long.fromString((BigInt(Math.round(at)) * 1_000_000n).toString());
}

/** An id (uid, gid) as an int64. */
export function i64(n: number): Long {
  return Long.fromNumber(n);
}

/** A count (bytes, pages) as a uint64. */
export function u64(n: number | bigint): Long {
  return Long.fromString(BigInt(n).toString(), true);
}
