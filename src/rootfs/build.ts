// Root filesystems for containers, built from Debian packages alone.
//
// default: busybox-static with its applets, plus bash-static as /bin/bash
//          (Warden feeds job scripts to /bin/bash): about 4 MiB.
// debian:  a full Debian (debootstrap --variant=minbase), for users who need
//          apt and the usual tools.
//
// Both are built in a temporary directory next to the target and renamed
// into place, so a half-built tree is never used.
import { spawn } from "node:child_process";
import { chmod, chown, copyFile, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { run } from "../linux/command.js";

export const BASE_USER_UID = 1000;
const MARKER = ".warden-rootfs";

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

// Raised when what a kind of root holds changes, so set-up builds it again.
const VERSIONS: Record<string, number> = { default: 2, debian: 1 };

/** Built, and of the current version of its kind. */
export async function isBuilt(dir: string, kind = "default"): Promise<boolean> {
  try {
    const [builtKind, version] = (await readFile(join(dir, MARKER), "utf8")).trim().split(" ");
    return builtKind === kind && Number(version ?? 1) >= (VERSIONS[kind] ?? 1);
  } catch {
    return false;
  }
}

// adduser and addgroup in sh: GATS and users of BusyBox images create users with them.
const TOOLS = fileURLToPath(new URL("../../../src/rootfs/tools/", import.meta.url));

async function firstExisting(paths: string[], pkg: string): Promise<string> {
  for (const p of paths) if (await exists(p)) return p;
  throw new Error(`${paths[0]} not found: install ${pkg} (apt-get install -y ${pkg})`);
}

async function accounts(dir: string): Promise<void> {
  await writeFile(
    join(dir, "etc/passwd"),
    `root:x:0:0:root:/root:/bin/bash\nvcap:x:${BASE_USER_UID}:${BASE_USER_UID}::/home/vcap:/bin/bash\n`,
  );
  await writeFile(join(dir, "etc/group"), `root:x:0:\ntty:x:5:\nvcap:x:${BASE_USER_UID}:\n`);
}

async function inPlace(target: string, build: (tmp: string) => Promise<void>, kind: string): Promise<void> {
  const tmp = `${target}.building`;
  await mkdir(dirname(target), { recursive: true });
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await build(tmp);
    await writeFile(join(tmp, MARKER), `${kind} ${VERSIONS[kind] ?? 1}\n`);
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** A 64-bit ELF without a PT_INTERP header needs no dynamic loader, so it runs in any root. */
export async function isStaticElf(path: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const header = Buffer.alloc(64);
    await handle.read(header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2) return false;
    const phoff = Number(header.readBigUInt64LE(0x20));
    const phentsize = header.readUInt16LE(0x36);
    const phnum = header.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    await handle.read(table, 0, table.length, phoff);
    const PT_INTERP = 3;
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === PT_INTERP) return false;
    return true;
  } finally {
    await handle.close();
  }
}

export async function buildDefaultRootfs(target: string, progress: (line: string) => void = () => {}): Promise<void> {
  const busybox = await firstExisting(["/usr/bin/busybox", "/bin/busybox"], "busybox-static");
  const bash = await firstExisting(["/usr/bin/bash-static", "/bin/bash-static"], "bash-static");
  for (const binary of [busybox, bash]) {
    if (!(await isStaticElf(binary))) throw new Error(`${binary} is not statically linked: install busybox-static and bash-static`);
  }
  await inPlace(
    target,
    async (dir) => {
      progress(`I: Making the directories in ${dir}...`);
      for (const d of ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "home/vcap", "proc", "sys", "dev", "var/tmp"]) {
        await mkdir(join(dir, d), { recursive: true });
      }
      await mkdir(join(dir, "root"), { mode: 0o700 });
      await mkdir(join(dir, "tmp"));
      await chmod(join(dir, "tmp"), 0o1777);
      await chmod(join(dir, "var/tmp"), 0o1777);
      progress(`I: Copying ${busybox} and linking its applets...`);
      await copyFile(busybox, join(dir, "bin/busybox"));
      await chmod(join(dir, "bin/busybox"), 0o755);
      // Links every applet (ls, sh, ps, ...) to /bin/busybox where it belongs.
      await run(["chroot", dir, "/bin/busybox", "--install", "-s"]);
      progress(`I: Copying ${bash} as /bin/bash...`);
      await rm(join(dir, "bin/bash"), { force: true });
      await copyFile(bash, join(dir, "bin/bash"));
      await chmod(join(dir, "bin/bash"), 0o755);
      progress("I: Adding adduser and addgroup...");
      for (const tool of ["adduser", "addgroup"]) {
        for (const d of ["bin", "sbin", "usr/bin", "usr/sbin"]) await rm(join(dir, d, tool), { force: true });
        await copyFile(join(TOOLS, tool), join(dir, "usr/sbin", tool));
        await chmod(join(dir, "usr/sbin", tool), 0o755);
      }
      progress("I: Adding root and the container user vcap...");
      await accounts(dir);
      await writeFile(join(dir, "etc/resolv.conf"), "");
      await chown(join(dir, "home/vcap"), BASE_USER_UID, BASE_USER_UID);
    },
    "default",
  );
}

export interface DebianOptions {
  suite: string;
  mirror: string;
  /** Called with each line debootstrap prints, for progress. */
  progress: (line: string) => void;
}

export async function buildDebianRootfs(target: string, options: DebianOptions): Promise<void> {
  await firstExisting(["/usr/sbin/debootstrap"], "debootstrap");
  await inPlace(
    target,
    async (dir) => {
      await streamed(["debootstrap", "--variant=minbase", options.suite, dir, options.mirror], options.progress);
      options.progress("I: Adding the container user vcap...");
      await run(["chroot", dir, "useradd", "-m", "-U", "-u", String(BASE_USER_UID), "-s", "/bin/bash", "vcap"]);
      await run(["chroot", dir, "apt-get", "clean"]);
    },
    `debian ${options.suite}`,
  );
}

function streamed(argv: string[], progress: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let partial = "";
    const onData = (b: Buffer) => {
      const lines = (partial + b.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) if (l.trim()) progress(l);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) => {
      if (partial.trim()) progress(partial);
      if (code === 0) resolve();
      else reject(new Error(`${argv[0]} exited with ${code}`));
    });
  });
}
