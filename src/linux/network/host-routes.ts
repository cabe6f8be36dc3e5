// The IPv4 networks the host routes, read from /proc/net/route (the main
// table, as the kernel keeps it; no process started): a container's /30
// must not be one of them, or its traffic goes where the older route says.
import { readFile } from "node:fs/promises";

/** "a.b.c.d/n" for each route of /proc/net/route's text (addresses and masks little-endian hex). */
export function parseRouteTable(text: string): string[] {
  const routes: string[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const destination = Number.parseInt(fields[1], 16);
    const mask = Number.parseInt(fields[7], 16);
    if (!Number.isFinite(destination) || !Number.isFinite(mask)) continue;
    const address = [0, 8, 16, 24].map((shift) => (destination >>> shift) & 0xff).join(".");
    let prefix = 0;
    for (let m = mask >>> 0; m; m >>>= 1) prefix += m & 1;
    routes.push(`${address}/${prefix}`);
  }
  return routes;
}

export async function hostRoutes(path = "/proc/net/route"): Promise<string[]> {
  return parseRouteTable(await readFile(path, "utf8").catch(() => ""));
}
