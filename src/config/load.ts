// Reads the YAML config (YAML 1.1, as Warden's Ruby read it: 0755 is octal)
// and checks it, naming the key of any bad value.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { configSchema, type Config } from "./schema.js";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function parseConfig(text: string, source = "config"): Config {
  let raw: unknown;
  try {
    raw = parse(text, { version: "1.1", intAsBigInt: false }) ?? {};
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = issue.path.map(String).join(".") || "(top level)";
      const keys = issue.code === "unrecognized_keys" ? ` ${issue.keys.map((k) => `'${k}'`).join(", ")}` : "";
      return `${source}: ${key}: ${issue.message}${keys}`;
    });
    throw new ConfigError(lines.join("\n"));
  }
  return result.data;
}

export function loadConfig(path?: string): Config {
  if (path === undefined) return parseConfig("");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as Error).message}`);
  }
  return parseConfig(text, path);
}

/**
 * Warden refuses a uid pool that overlaps a user of the host. In a user
 * namespace the pool's uids are the container's own; the host uids all
 * containers use are the namespace's range, which no host user may hold.
 */
export function checkUidPool(config: Config, passwd: string): void {
  const { user_namespace, uid_map_start, uid_map_size } = config.security;
  const [start, end, message] = user_namespace
    ? [uid_map_start, uid_map_start + uid_map_size, "security.uid_map_start: the user namespace's host uids overlap with user in /etc/passwd"]
    : [config.user.pool_start_uid, config.user.pool_start_uid + config.user.pool_size, "UID in user pool overlaps with user in /etc/passwd"];
  for (const line of passwd.split("\n")) {
    const uid = Number(line.split(":")[2]);
    if (Number.isInteger(uid) && uid >= start && uid < end) throw new ConfigError(message);
  }
}

export type { Config };
