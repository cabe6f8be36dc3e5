// Copies between the host and a container (Warden's CopyIn and CopyOut)
// and tar streams in and out (Garden's StreamIn and StreamOut), safe
// against a hostile container.
//
// A container's paths are resolved only inside the container: the copy runs
// in its namespaces and root (through the runtime's exec), as the container
// user, with a static busybox the host bind-mounts read-only into every
// container, so any root filesystem works. A symlink a job planted (to /,
// to /etc, to ..) then leads to the container's own files, never the
// host's. Data crosses as a tar stream over a pipe, so a large copy uses
// bounded memory. On the host, archives coming out of a container are
// unpacked by node-tar, which refuses absolute paths, `..` and writing
// through symlinks; setuid and setgid bits are dropped, and only files,
// directories and links are made.
//
// The destination follows rsync's trailing-slash rule: `dir/` copies what
// is in dir, `dir` copies dir itself into the destination; a file copied
// onto an existing directory lands inside it, otherwise under the name given.
import { spawn, type ChildProcess } from "node:child_process";
import { lstat, mkdir, mkdtemp, open, readdir, realpath, rename, rm, stat, symlink, unlink } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import { errors } from "../../core/errors.js";
import type { FileTransfer } from "../../core/interfaces/file-transfer.js";
import type { ResolvedUser } from "../../core/interfaces/runtime.js";
import type { CommandRunner } from "../command.js";
import { COPY_HELPER_IN_CONTAINER } from "../runtime/bundle.js";
import type { OciRuntimeCli } from "../runtime/oci-runtime.js";

const BB = COPY_HELPER_IN_CONTAINER;

// $1 the destination; $2 "dir" (a directory's entries) or the name of the
// one file in the archive; the archive on stdin.
const COPY_IN_SCRIPT = `
set -e
BB=${BB}
if [ "$2" = / ] || [ -d "$1" ] || [ "\${1%/}" != "$1" ]; then
  "$BB" mkdir -p "$1"
  exec "$BB" tar -x -f - -C "$1"
fi
parent=$("$BB" dirname "$1")
tmp=$("$BB" mktemp -d "$parent/.warden-copy.XXXXXX")
if "$BB" tar -x -f - -C "$tmp" && "$BB" mv -f "$tmp/$2" "$1"; then rc=0; else rc=1; fi
"$BB" rm -rf "$tmp"
exit $rc
`;

// $1 the source. Says what it is: "D" a directory, "L" a symlink, "R <mode>" a
// regular file, "O" anything else.
const PROBE_SCRIPT = `
BB=${BB}
if [ -L "$1" ]; then echo L
elif [ -d "$1" ]; then echo D
elif [ -f "$1" ]; then echo "R $("$BB" stat -c %a "$1")"
elif [ -e "$1" ]; then echo O
else echo "$1: No such file or directory" >&2; exit 1
fi
`;

// $1 the source; $2 "1" when it ended in a slash (a directory's entries). The archive on stdout.
const PACK_SCRIPT = `
BB=${BB}
if [ "$2" = 1 ]; then exec "$BB" tar -c -f - -C "$1" .; fi
exec "$BB" tar -c -f - -C "$("$BB" dirname "$1")" "$("$BB" basename "$1")"
`;

// $1 a regular file, copied to stdout as it is.
const CAT_SCRIPT = `exec ${BB} cat -- "$1"`;

const OWNER = /^[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)?$/;
const SAFE_TYPES = new Set(["File", "OldFile", "ContiguousFile", "Directory", "SymbolicLink", "Link"]);
const MAX_STDERR = 64 * 1024;

// $1 the directory, made when missing; the archive on stdin.
const UNPACK_SCRIPT = `
BB=${BB}
"$BB" mkdir -p "$1" && exec "$BB" tar -x -f - -C "$1"
`;

export interface CopyRequest {
  id: string;
  user: ResolvedUser;
  src: string;
  dst: string;
}

function trimmed(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

export class ContainerCopier implements FileTransfer {
  constructor(
    private readonly oci: OciRuntimeCli,
    private readonly commands: CommandRunner,
  ) {}

  private exec(request: { id: string; user: ResolvedUser }, script: string, args: string[]): { child: ChildProcess; done: Promise<void> } {
    const argv = this.oci.execArgv(request.id, request.user, request.user.home, ["PATH=/bin:/usr/bin"], [
      BB, "sh", "-c", script, "sh", ...args,
    ]);
    const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (b: Buffer) => {
      if (stderr.length < MAX_STDERR) stderr += b.toString();
    });
    const done = new Promise<void>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) =>
        code === 0 ? resolve() : reject(errors.commandFailed(stderr.trim().split("\n").slice(-3).join(" | ") || `exited with ${code}`)),
      );
    });
    return { child, done };
  }

  async copyIn(request: CopyRequest): Promise<void> {
    const src = trimmed(request.src);
    const intoContents = request.src.endsWith("/");
    let st;
    try {
      st = await lstat(src);
    } catch {
      throw errors.invalid(`source ${request.src} does not exist on the host`);
    }
    const directory = st.isDirectory();
    // "dir/": its entries, not "." (whose attributes would land on the destination itself).
    const names = directory && intoContents ? await readdir(src) : [basename(src)];
    const cwd = directory && intoContents ? src : dirname(src);
    // A directory's entries go into the destination; one file may be renamed on the way.
    const mode = directory ? "/" : basename(src);
    const { child, done } = this.exec(request, COPY_IN_SCRIPT, [request.dst, mode]);
    // The host's tar reads the (trusted) host path and writes straight into
    // the pipe to the container: the data never passes through the daemon.
    const pack = spawn("tar", ["-c", "-f", "-", "--numeric-owner", "-C", cwd, "--", ...names], {
      stdio: ["ignore", child.stdin!, "pipe"],
    });
    child.stdin!.destroy();
    let packErr = "";
    pack.stderr!.on("data", (b: Buffer) => {
      if (packErr.length < MAX_STDERR) packErr += b.toString();
    });
    const packed = new Promise<void>((resolve, reject) => {
      pack.once("error", reject);
      pack.once("close", (code) => {
        if (code === 0) return resolve();
        child.kill("SIGKILL");
        reject(errors.commandFailed(`cannot read ${request.src}: ${packErr.trim().split("\n").pop()}`));
      });
    });
    await Promise.all([packed, done]);
  }

  /** Unpacks a tar stream into the container's `path`, as the user, inside the container. */
  async streamIn(request: { id: string; user: ResolvedUser; path: string; tar: Readable }): Promise<void> {
    const { child, done } = this.exec(request, UNPACK_SCRIPT, [request.path]);
    await Promise.all([pipeline(request.tar, child.stdin!), done]);
  }

  /** A tar stream of the container's `path`, made inside it as the user; a failure inside fails the stream. */
  async streamOut(request: { id: string; user: ResolvedUser; path: string }): Promise<Readable> {
    const probe = this.exec(request, PROBE_SCRIPT, [request.path]);
    probe.child.stdout!.resume();
    probe.child.stdin!.end();
    await probe.done;
    const packing = this.exec(request, PACK_SCRIPT, [request.path, request.path.endsWith("/") ? "1" : "0"]);
    packing.child.stdin!.end();
    const out = new PassThrough();
    packing.child.stdout!.pipe(out, { end: false });
    // The child's close comes after its stdout has given all it had.
    packing.done.then(
      () => out.end(),
      (err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    return out;
  }

  async copyOut(request: CopyRequest & { owner?: string }): Promise<void> {
    if (request.owner !== undefined && !OWNER.test(request.owner)) {
      throw errors.invalid(`owner ${request.owner} is not user or user:group`);
    }
    const dst = trimmed(request.dst);
    const probe = this.exec(request, PROBE_SCRIPT, [request.src]);
    let answer = "";
    probe.child.stdout!.on("data", (b: Buffer) => (answer += b.toString()));
    probe.child.stdin!.end();
    await probe.done;
    const [kind, mode] = answer.trim().split(" ");
    const dstIsDir = await stat(dst).then((s) => s.isDirectory(), () => false);
    // A file onto an existing directory lands inside it; otherwise under the name given.
    const intoDir = kind === "D" || dstIsDir || request.dst.endsWith("/");
    const target = kind === "D" || !intoDir ? dst : join(dst, basename(trimmed(request.src)));
    if (kind === "R") {
      if (intoDir) await mkdir(dst, { recursive: true });
      await this.copyFileOut(request, target, Number.parseInt(mode, 8));
    } else if (kind === "D" || kind === "L" || kind === "O") {
      await this.unpackOut(request, dst, intoDir ? undefined : target);
    } else {
      throw errors.commandFailed(`cannot tell what ${request.src} is`);
    }
    if (request.owner !== undefined) await this.commands.run(["chown", "-R", "-h", "--", request.owner, target]);
  }

  // The container's cat writes straight into a file opened here: the bytes
  // never pass through the daemon. Written beside the target, then renamed.
  private async copyFileOut(request: CopyRequest, target: string, mode: number): Promise<void> {
    const temp = join(dirname(target), `.warden-copy-${process.pid}-${Date.now()}-${basename(target)}`);
    const file = await open(temp, "wx", 0o600);
    try {
      const argv = this.oci.execArgv(request.id, request.user, request.user.home, ["PATH=/bin:/usr/bin"], [
        BB, "sh", "-c", CAT_SCRIPT, "sh", request.src,
      ]);
      const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", file.fd, "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (b: Buffer) => {
        if (stderr.length < MAX_STDERR) stderr += b.toString();
      });
      await new Promise<void>((resolve, reject) => {
        child.once("error", reject);
        child.once("close", (code) => (code === 0 ? resolve() : reject(errors.commandFailed(stderr.trim() || `exited with ${code}`))));
      });
      // The runtime made the file the container user's; it is root's here. No setuid or setgid.
      await file.chown(0, 0);
      await file.chmod((Number.isNaN(mode) ? 0o644 : mode) & 0o1777);
      await file.close();
      await rename(temp, target);
    } catch (err) {
      await file.close().catch(() => {});
      await rm(temp, { force: true });
      throw err;
    }
  }

  // A directory or a link: tar in the container, unpacked here with care.
  private async unpackOut(request: CopyRequest, dst: string, renameTo?: string): Promise<void> {
    const packing = this.exec(request, PACK_SCRIPT, [request.src, request.src.endsWith("/") ? "1" : "0"]);
    packing.child.stdin!.end();
    if (!renameTo) {
      await mkdir(dst, { recursive: true });
      const into = unpack(dst);
      await Promise.all([pipeline(packing.child.stdout!, into.stream), packing.done]);
      await into.finish();
      return;
    }
    // One entry under another name: unpacked beside it, then moved into place.
    const staging = await mkdtemp(join(dirname(renameTo), ".warden-copy-"));
    try {
      const names: string[] = [];
      const into = unpack(staging, (p) => names.push(p));
      await Promise.all([pipeline(packing.child.stdout!, into.stream), packing.done]);
      await into.finish();
      const name = names.find((n) => !n.includes("/")) ?? names[0];
      if (!name) throw errors.commandFailed("the container sent nothing");
      await rename(join(staging, name), renameTo);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
}

interface Unpacked {
  stream: NodeJS.WritableStream;
  /** Makes the held-back symlinks, once every file is written; fails on entries that were refused. */
  finish(): Promise<void>;
}

/**
 * node-tar unpacks files, directories and hard links (confined to `cwd`);
 * symlinks are held back and made last, with the target the container gave
 * them (as rsync --links does), each only where its parent directory really
 * is inside `cwd`. With no symlink in the new tree while files are written,
 * nothing can be written through one.
 */
export function unpack(cwd: string, seen?: (path: string) => void): Unpacked {
  const links: Array<{ path: string; target: string }> = [];
  const refused: string[] = [];
  const stream = tar.x({
    cwd,
    preserveOwner: false,
    // The modes the container's files had, not filtered by the daemon's umask.
    umask: 0,
    onwarn: (code, message) => {
      if (code === "TAR_ENTRY_ERROR" || code === "TAR_ENTRY_INVALID" || code === "TAR_BAD_ARCHIVE") refused.push(String(message));
    },
    filter: (path, entry) => {
      const e = entry as { type?: string; linkpath?: string; mode?: number };
      const type = e.type ?? "File";
      if (!SAFE_TYPES.has(type)) return false;
      // No setuid or setgid file from a container on the host (node-tar's umask leaves them).
      if (typeof e.mode === "number") e.mode &= ~0o6000;
      const clean = path.replace(/^(\.\/)+/, "").replace(/\/$/, "");
      seen?.(clean);
      if (type === "SymbolicLink") {
        links.push({ path: clean, target: e.linkpath ?? "" });
        return false;
      }
      return true;
    },
  }) as unknown as NodeJS.WritableStream;
  return {
    stream,
    async finish() {
      if (refused.length > 0) throw errors.commandFailed(`refused from the container's archive: ${refused.slice(0, 3).join(" | ")}`);
      const root = await realpath(cwd);
      for (const link of links) {
        const at = resolve(root, link.path);
        if (!link.path || link.path.split("/").includes("..") || !isAbsolute(at) || !at.startsWith(`${root}/`)) {
          throw errors.commandFailed(`refused from the container's archive: a link at ${link.path}`);
        }
        const parent = await realpath(dirname(at)).catch(() => "");
        if (parent !== root && !parent.startsWith(`${root}/`)) {
          throw errors.commandFailed(`refused from the container's archive: a link under ${dirname(link.path)}`);
        }
        const existing = await lstat(at).catch(() => undefined);
        if (existing?.isDirectory()) continue;
        if (existing) await unlink(at);
        await symlink(link.target, at);
      }
    },
  };
}
