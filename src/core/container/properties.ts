// Properties: string pairs a client keeps on a container (schedulers keep
// their metadata there) and lists containers by.
import { errors } from "../errors.js";
import type { Properties } from "./container.js";

const MAX_KEY_BYTES = 1024;
const MAX_VALUE_BYTES = 64 * 1024;

export function checkProperty(key: string, value: string): void {
  if (typeof key !== "string" || key === "") throw errors.invalid("a property key must be a non-empty string");
  if (typeof value !== "string") throw errors.invalid(`property ${key} must have a string value`);
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw errors.invalid(`property key is longer than ${MAX_KEY_BYTES} bytes`);
  if (Buffer.byteLength(value) > MAX_VALUE_BYTES) throw errors.invalid(`property ${key} is longer than ${MAX_VALUE_BYTES} bytes`);
  if (key.includes("\0") || value.includes("\0")) throw errors.invalid("a property must not hold a NUL byte");
}

export function checkProperties(properties: Properties): void {
  if (!properties || typeof properties !== "object") throw errors.invalid("properties must be pairs of strings");
  for (const [key, value] of Object.entries(properties)) checkProperty(key, value);
}

/** Every pair of the filter is in the properties. */
export function matchesAll(properties: Properties, filter: Properties): boolean {
  return Object.entries(filter).every(([key, value]) => Object.hasOwn(properties, key) && properties[key] === value);
}
