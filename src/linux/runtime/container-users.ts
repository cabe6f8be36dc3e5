// Users of a running container, read from its own /etc/passwd and
// /etc/group: from inside its mount (and user) namespace, so a symlink the
// container planted resolves within the container, never on the host. The
// static busybox bind-mounted into every container does the reading (and
// makes a missing working directory), so any root filesystem works.
import { readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { errors } from "../../core/errors.js";
import type { ResolvedUser } from "../../core/interfaces/runtime.js";
import { resolveUser } from "../../core/process/users.js";
import type { CommandRunner } from "../command.js";
import type { IdMap } from "../security/id-map.js";
import { COPY_HELPER_IN_CONTAINER } from "./bundle.js";

const SEPARATOR = "--- warden ---";
const MAX_ACCOUNT_FILE = 1024 * 1024;
const TIMEOUT_MS = 10_000;

// $1 a directory to look for, or "". Prints passwd, group and whether the directory is there.
const READ_SCRIPT = `
BB=${COPY_HELPER_IN_CONTAINER}
"$BB" head -c ${MAX_ACCOUNT_FILE} /etc/passwd 2>/dev/null
echo
echo "${SEPARATOR}"
"$BB" head -c ${MAX_ACCOUNT_FILE} /etc/group 2>/dev/null
echo
echo "${SEPARATOR}"
if [ -n "$1" ] && [ ! -d "$1" ]; then echo missing; else echo present; fi
`;

// $1 the directory, $2 uid, $3 gid: every missing part is made and given to the user.
const MKDIR_SCRIPT = `
set -f
BB=${COPY_HELPER_IN_CONTAINER}
path=""
IFS=/
for part in $1; do
  [ -z "$part" ] && continue
  path="$path/$part"
  if [ ! -d "$path" ]; then
    "$BB" mkdir "$path" && "$BB" chown "$2:$3" "$path" || exit 1
  fi
done
`;

export class ContainerUsers {
  constructor(
    private readonly commands: CommandRunner,
    /** The host pid of the container's init, whose namespaces are entered. */
    private readonly initPid: (id: string) => Promise<number | undefined>,
    /** Where the namespaces of processes are (tests give their own). */
    private readonly proc = "/proc",
  ) {}

  /**
   * Whether the container's init is in a user namespace of its own (not a
   * privileged container, nor a daemon without them): read off the kernel,
   * so it holds after a restart too.
   */
  async hasUserNamespace(id: string): Promise<boolean> {
    const pid = await this.initPid(id);
    if (pid === undefined) return false;
    try {
      const [theirs, ours] = await Promise.all([readlink(join(this.proc, String(pid), "ns/user")), readlink(join(this.proc, "self/ns/user"))]);
      return theirs !== ours;
    } catch {
      return false;
    }
  }

  /** The map of the container's user namespace (the daemon's, or its own), read off the kernel; none without one. */
  async idMapOf(id: string): Promise<IdMap | undefined> {
    const pid = await this.initPid(id);
    if (pid === undefined || !(await this.hasUserNamespace(id))) return undefined;
    // Ours map container id 0 on, in one line.
    const text = await readFile(join(this.proc, String(pid), "uid_map"), "utf8").catch(() => "");
    const [inside, hostId, size] = text.trim().split(/\s+/).map(Number);
    return inside === 0 && Number.isSafeInteger(hostId) && Number.isSafeInteger(size) ? { hostId, size } : undefined;
  }

  private async enter(id: string, script: string, args: string[]): Promise<string> {
    const pid = await this.initPid(id);
    if (pid === undefined) throw errors.commandFailed(`the container ${id} has no running init`);
    const { stdout } = await this.commands.run(
      [
        "nsenter", "-t", String(pid), ...((await this.hasUserNamespace(id)) ? ["-U"] : []), "-m", "--",
        COPY_HELPER_IN_CONTAINER, "sh", "-c", script, "sh", ...args,
      ],
      { timeoutMs: TIMEOUT_MS },
    );
    return stdout;
  }

  /** The user; with `workDir`, the working directory (its path, else their home) made when missing. */
  async resolve(id: string, spec: string, workDir?: { path?: string }): Promise<ResolvedUser> {
    const dir = workDir?.path;
    const [passwd, group, status] = (await this.enter(id, READ_SCRIPT, [dir ?? ""])).split(`${SEPARATOR}\n`);
    const user = resolveUser(spec, passwd ?? "", group ?? "");
    if (!workDir) return user;
    // A home is looked for once the user is known: making it when it is there costs nothing more.
    const target = dir ?? user.home;
    if (dir === undefined || status?.trim() === "missing") {
      try {
        await this.enter(id, MKDIR_SCRIPT, [target, String(user.uid), String(user.gid)]);
      } catch (err) {
        throw errors.spawnFailed(`cannot make the working directory ${target}: ${err instanceof Error ? err.message : String(err)}`, err);
      }
    }
    return user;
  }
}
