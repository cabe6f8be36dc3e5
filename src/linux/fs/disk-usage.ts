// Bytes a tree takes on disk, as du counts them: blocks, a hard-linked file once.
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

export async function diskUsage(root: string, seen = new Set<string>()): Promise<number> {
  let total = 0;
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path);
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) return;
    seen.add(id);
    total += st.blocks * 512;
    if (st.isDirectory()) for (const n of await readdir(path)) await visit(join(path, n));
  };
  await visit(root).catch(() => {});
  return total;
}
