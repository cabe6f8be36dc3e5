// A process's environment: KEY=VALUE pairs, the container's under the
// process's own, completed with what every process is owed.
import { errors } from "../errors.js";
import type { ResolvedUser } from "../interfaces/runtime.js";

export const ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
export const USER_PATH = "/usr/local/bin:/usr/bin:/bin";

export function checkEnv(env: readonly string[]): void {
  if (!Array.isArray(env)) throw errors.invalid("env must be a list of KEY=VALUE");
  for (const entry of env) {
    if (typeof entry !== "string" || !/^[^=\0]+=/.test(entry) || entry.includes("\0")) {
      throw errors.invalid(`env entry ${JSON.stringify(entry)} is not KEY=VALUE`);
    }
  }
}

const keyOf = (entry: string) => entry.slice(0, entry.indexOf("="));

/** Later layers win, key by key; the order of first appearance is kept. */
export function mergeEnv(...layers: ReadonlyArray<readonly string[]>): string[] {
  const merged = new Map<string, string>();
  for (const layer of layers) for (const entry of layer) merged.set(keyOf(entry), entry);
  return [...merged.values()];
}

/** HOME, USER and PATH for the user, where the environment does not set them. */
export function completeEnv(env: readonly string[], user: ResolvedUser): string[] {
  const defaults = [`HOME=${user.home}`, `USER=${user.name}`, `PATH=${user.uid === 0 ? ROOT_PATH : USER_PATH}`];
  return mergeEnv(defaults, env);
}
