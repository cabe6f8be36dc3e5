// Reading a file of a root filesystem before it is mounted: the base
// directory, or the stack of image layers as overlay will merge them. A path
// comes from the topmost layer that has it, unless a layer above hides it
// with a whiteout (a 0:0 character device), a file in place of one of its
// directories, or an opaque directory (trusted.overlay.opaque=y) on the way.
import { lstat } from "node:fs/promises";
import { join } from "node:path";
import type { Stats } from "node:fs";
import type { CommandRunner } from "../command.js";

export interface LowerView {
  /** Where `rel` (relative to "/") is found, or undefined when the merged root has nothing there. */
  find(rel: string): Promise<string | undefined>;
  /** The directory whose attributes the merged root's "/" takes. */
  readonly top: string;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch {
    return undefined;
  }
}

const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;

/** A single base directory. */
export function directoryView(dir: string): LowerView {
  return {
    top: dir,
    find: async (rel) => ((await lstatOrUndefined(join(dir, rel))) ? join(dir, rel) : undefined),
  };
}

/**
 * Which directories are opaque. Layers never change once made, so what was
 * asked once is kept: the first container of an image pays one getfattr.
 */
export class OpaqueDirectories {
  private readonly known = new Map<string, boolean>();

  constructor(private readonly commands: CommandRunner) {}

  async check(dir: string): Promise<boolean> {
    let opaque = this.known.get(dir);
    if (opaque === undefined) {
      const { code, stdout } = await this.commands.run(
        ["getfattr", "--absolute-names", "--only-values", "-n", "trusted.overlay.opaque", dir],
        { okCodes: [1] },
      );
      opaque = code === 0 && stdout === "y";
      if (this.known.size > 100_000) this.known.clear();
      this.known.set(dir, opaque);
    }
    return opaque;
  }
}

/** Layers as overlay stacks them; `layers` lowest first, as images list them. */
export function layerView(layers: readonly string[], opaque: OpaqueDirectories): LowerView {
  const topFirst = [...layers].reverse();
  return {
    top: topFirst[0],
    async find(rel: string): Promise<string | undefined> {
      const parts = rel.split("/").filter((p) => p !== "" && p !== ".");
      for (const layer of topFirst) {
        const walked: string[] = [];
        let path = layer;
        for (let i = 0; i < parts.length; i++) {
          path = join(path, parts[i]);
          const st = await lstatOrUndefined(path);
          if (!st) break;
          if (isWhiteout(st)) return undefined;
          if (i === parts.length - 1) return path;
          if (!st.isDirectory()) return undefined;
          walked.push(path);
        }
        if (layer === topFirst.at(-1)) break;
        // This layer lacks it: a lower one shows through unless a directory on the way is opaque here.
        for (const dir of walked) if (await opaque.check(dir)) return undefined;
      }
      return undefined;
    },
  };
}
