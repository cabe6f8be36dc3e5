// An image layer (a tar, gzip- or zstd-compressed or not) unpacked into a
// directory that overlay can stack as a lower layer. GNU tar does the
// unpacking as the layer says (hard links, symlinks, devices, modes, owners,
// xattrs) and keeps it inside: it strips leading slashes, refuses names with
// `..`, and makes symlinks only at the end, so nothing is written through a
// link the archive made. Then OCI's whiteouts become overlay's: `.wh.NAME`
// a 0:0 character device NAME, `.wh..wh..opq` the trusted.overlay.opaque
// attribute of its directory. For containers in a user namespace the owners
// are shifted into its range.
import { statfs } from "node:fs/promises";
import { errors } from "../../core/errors.js";
import type { CommandRunner } from "../command.js";
import { shiftOwners } from "../fs/shifted-rootfs.js";
import type { IdMap } from "../security/id-map.js";

// $@ whiteout markers, deepest first (find -depth), each replaced by what overlay reads.
const WHITEOUT_SCRIPT = `
for marker; do
  dir=\${marker%/*}
  name=\${marker##*/}
  if [ "$name" = .wh..wh..opq ]; then
    setfattr -n trusted.overlay.opaque -v y "$dir" || exit 1
  else
    target="$dir/\${name#.wh.}"
    rm -rf -- "$target"
    mknod "$target" c 0 0 || exit 1
  fi
  rm -f -- "$marker"
done
`;

/** What tar and cp say when the disk is full (GNU tar: a short write, "Wrote only 512 of 10240 bytes"). */
export const OUT_OF_SPACE = /No space left on device|Disk quota exceeded|ENOSPC|EDQUOT|Wrote only \d+ of \d+ bytes/;

/** Whether the filesystem holding `path` has (almost) no room left. */
export async function isFull(path: string): Promise<boolean> {
  try {
    const fs = await statfs(path);
    return fs.bavail * fs.bsize < 1024 * 1024;
  } catch {
    return false;
  }
}

export interface UnpackOptions {
  /** Shift owners into this user namespace's range. */
  idMap?: IdMap;
  image: string;
}

export async function unpackLayer(commands: CommandRunner, blob: string, into: string, options: UnpackOptions): Promise<void> {
  try {
    await commands.run(
      [
        "tar", "--extract", `--file=${blob}`, `--directory=${into}`,
        "--numeric-owner", "--same-owner", "--preserve-permissions", "--xattrs", "--xattrs-include=*",
      ],
      { timeoutMs: 600_000 },
    );
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    // tar says "Wrote only N of M bytes" when the disk fills; the disk itself tells.
    if (OUT_OF_SPACE.test(text) || (await isFull(into))) throw errors.noSpace(into, text, err);
    throw errors.imageInvalid(options.image, `a layer cannot be unpacked: ${text}`);
  }
  await commands.run(["find", into, "-depth", "-name", ".wh.*", "-exec", "sh", "-c", WHITEOUT_SCRIPT, "sh", "{}", "+"]);
  if (options.idMap) await shiftOwners(into, options.idMap);
}
