// Reads /proc/<pid>/mountinfo (proc(5)): which paths are mount points, of
// which type, with which propagation.
import { readFile } from "node:fs/promises";

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  optional: string[];
}

export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 6) continue;
    entries.push({
      mountPoint: unescape(fields[4]),
      optional: fields.slice(6, dash),
      fsType: fields[dash + 1],
      source: unescape(fields[dash + 2] ?? ""),
    });
  }
  return entries;
}

// The kernel writes space, tab, newline and backslash as octal escapes.
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export async function readMountInfo(pid: number | "self" = "self"): Promise<MountEntry[]> {
  return parseMountInfo(await readFile(`/proc/${pid}/mountinfo`, "utf8"));
}

/** The last mount at a path wins, as the kernel stacks them. */
export function mountAt(entries: MountEntry[], path: string): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const e of entries) if (e.mountPoint === path) found = e;
  return found;
}
