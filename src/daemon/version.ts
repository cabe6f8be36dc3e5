// wardend's own version, as package.json says (the published package and a
// clone alike carry it two levels above the compiled daemon).
import { readFileSync } from "node:fs";

export function wardenVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}
