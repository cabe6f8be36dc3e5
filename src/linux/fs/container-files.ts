// The files that make a base root filesystem this container's own: its
// name, its hosts, and the user `vcap` with the uid it was given. They are
// written into the writable layer, so the shared base is never touched.
import { chmod, chown, copyFile, lchown, lstat, mkdir, open, readdir, readlink, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { hostIdOf, type IdMap } from "../security/id-map.js";
import type { LowerView } from "./layer-view.js";

export const CONTAINER_USER = "vcap";
const MAX_ACCOUNT_FILE = 1024 * 1024;

export interface ContainerFilesSpec {
  id: string;
  uid: number;
  containerIp?: string;
  resolvConf?: string;
  /** The container's user namespace: what we write must belong to ids mapped in it. */
  idMap?: IdMap;
}

export async function writeContainerFiles(lower: LowerView, upper: string, spec: ContainerFilesSpec): Promise<void> {
  // In a user namespace, a file of host root is nobody's inside, and not even
  // container root may change it: everything written here is owned through the map.
  const own = (path: string, id: number) => lchown(path, hostIdOf(spec.idMap, id), hostIdOf(spec.idMap, id));
  const mapped = spec.idMap !== undefined;
  const etc = join(upper, "etc");
  await mkdir(etc, { recursive: true, mode: 0o755 });
  const files: Array<[string, string]> = [
    ["hostname", `${spec.id}\n`],
    ["hosts", hostsFile(spec.id, spec.containerIp)],
    ["passwd", withUser(await readAccountFile(await lower.find("etc/passwd")), spec.uid)],
    ["group", withGroup(await readAccountFile(await lower.find("etc/group")), spec.uid)],
  ];
  if (spec.resolvConf !== undefined) files.push(["resolv.conf", spec.resolvConf]);
  for (const [name, text] of files) {
    await writeFile(join(etc, name), text, { mode: 0o644 });
    if (mapped) await own(join(etc, name), 0);
  }
  if (mapped) await own(etc, 0);

  const home = join(upper, "home", CONTAINER_USER);
  await mkdir(home, { recursive: true, mode: 0o755 });
  if (mapped) await own(join(upper, "home"), 0);
  await own(home, spec.uid);
  // A home spread over several image layers is copied from the topmost that has it.
  const baseHome = await lower.find(`home/${CONTAINER_USER}`);
  if (baseHome) await copyHome(baseHome, home, hostIdOf(spec.idMap, spec.uid));
  if (!(await isDirectory(await lower.find("root")))) {
    await mkdir(join(upper, "root"), { mode: 0o700 });
    if (mapped) await own(join(upper, "root"), 0);
  }
  if (!(await isDirectory(await lower.find("tmp")))) {
    await mkdir(join(upper, "tmp"));
    // mkdir's mode is filtered by the umask; /tmp needs its sticky bit.
    await chmod(join(upper, "tmp"), 0o1777);
    if (mapped) await own(join(upper, "tmp"), 0);
  }
}

/** The base's account files, as read through its layers (empty when it has none, or only links). */
export async function readAccounts(lower: LowerView): Promise<{ passwd: string; group: string }> {
  const [passwd, group] = await Promise.all([readAccountFile(await lower.find("etc/passwd")), readAccountFile(await lower.find("etc/group"))]);
  return { passwd, group };
}

export function hostsFile(id: string, containerIp?: string): string {
  return `127.0.0.1 localhost\n${containerIp ?? "127.0.0.1"} ${id}\n`;
}

/** passwd with `vcap` set to uid = gid = `uid`, added when the base has none. */
export function withUser(passwd: string, uid: number): string {
  const entry = `${CONTAINER_USER}:x:${uid}:${uid}::/home/${CONTAINER_USER}:/bin/bash`;
  return replaceEntry(passwd, entry, "root:x:0:0:root:/root:/bin/bash");
}

export function withGroup(group: string, gid: number): string {
  return replaceEntry(group, `${CONTAINER_USER}:x:${gid}:`, "root:x:0:");
}

// Drops the base's own vcap entry and makes sure root exists: a job running
// privileged must resolve to a name too.
// Warden re-owned the files of the base's vcap to the container's uid. The
// base is shared and read-only, so its home (a few dotfiles, usually) is
// copied into the writable layer, owned by the container's uid. Bounded:
// a base with a large home keeps the rest as it is.
const HOME_COPY_ENTRIES = 1000;
const HOME_COPY_BYTES = 16 * 1024 * 1024;

async function copyHome(from: string, to: string, uid: number): Promise<void> {
  const budget = { entries: HOME_COPY_ENTRIES, bytes: HOME_COPY_BYTES };
  const walk = async (src: string, dst: string): Promise<void> => {
    let names: string[];
    try {
      if (!(await lstat(src)).isDirectory()) return;
      names = await readdir(src);
    } catch {
      return;
    }
    for (const name of names) {
      if (budget.entries-- <= 0) return;
      const s = join(src, name);
      const d = join(dst, name);
      const st = await lstat(s);
      if (st.isDirectory()) {
        await mkdir(d, { mode: st.mode & 0o7777 }).catch(() => {});
        await chmod(d, st.mode & 0o7777);
        await chown(d, uid, uid);
        await walk(s, d);
      } else if (st.isFile() && st.size <= budget.bytes) {
        budget.bytes -= st.size;
        await copyFile(s, d);
        await chmod(d, st.mode & 0o777);
        await chown(d, uid, uid);
      } else if (st.isSymbolicLink()) {
        await symlink(await readlink(s), d).catch(() => {});
        await lchown(d, uid, uid).catch(() => {});
      }
    }
  };
  await walk(from, to);
}

function replaceEntry(text: string, entry: string, rootEntry: string): string {
  const lines = text.split("\n").filter((l) => l !== "" && !l.startsWith(`${CONTAINER_USER}:`));
  if (!lines.some((l) => l.startsWith("root:"))) lines.unshift(rootEntry);
  lines.push(entry);
  return `${lines.join("\n")}\n`;
}

// The base is chosen by the client: follow no symlink out of it, read no device.
async function readAccountFile(path: string | undefined): Promise<string> {
  if (path === undefined) return "";
  try {
    const st = await lstat(path);
    if (!st.isFile() || st.size > MAX_ACCOUNT_FILE) return "";
    const handle = await open(path, "r");
    try {
      return await handle.readFile("utf8");
    } finally {
      await handle.close();
    }
  } catch {
    return "";
  }
}

async function isDirectory(path: string | undefined): Promise<boolean> {
  if (path === undefined) return false;
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}
