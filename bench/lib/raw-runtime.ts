// The raw OCI runtime, driven as a user of it would drive it: a bundle on
// the base root filesystem, catatonit as init; optionally with wardend's
// network plumbing. The floor the benchmarks measure wardend against.
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../src/linux/command.js";
import { buildBundle } from "../../src/linux/runtime/bundle.js";
import type { RuntimeMountNamespace } from "../../src/linux/runtime/mount-namespace.js";
import type { NamespacedLinks } from "../../src/linux/network/links.js";
import { ContainerIdGenerator } from "../../src/core/container-id.js";
import { specJson } from "../../src/linux/runtime/oci-spec.js";
import { waitFor } from "../../src/linux/wait-for.js";
import { DEFAULT_ROOTFS, type RuntimeName } from "../../test/integration/harness.js";

export const BINARY: Record<RuntimeName, string> = { crun: "/usr/bin/crun", runc: "/usr/sbin/runc" };

/** The raw runtime, driven as a user of it would: a bundle on the base rootfs, catatonit as init. */
export class RawRuntime {
  private n = 0;
  constructor(
    private readonly name: RuntimeName,
    private readonly dir: string,
    private readonly ns: RuntimeMountNamespace,
    /** When given, each container also gets wardend's network plumbing (namespace, veth pair, addresses). */
    private readonly links?: NamespacedLinks,
  ) {}

  private cli(...args: string[]): string[] {
    return [BINARY[this.name], `--root=${join(this.dir, "state")}`, ...args];
  }

  async create(): Promise<string> {
    const id = this.links ? new ContainerIdGenerator().generate() : `rawbench${process.pid}x${this.n++}`;
    const bundle = join(this.dir, id);
    await mkdir(bundle, { recursive: true });
    const netnsPath = this.links
      ? await this.links.create(id, { subnet: "10.254.60.0/30", hostIp: "10.254.60.1", containerIp: "10.254.60.2" })
      : undefined;
    const spec = buildBundle({
      id,
      rootfsPath: DEFAULT_ROOTFS,
      bindMounts: [],
      cgroupParent: "warden-bench-raw",
      initPath: "/usr/bin/catatonit",
      namespaces: netnsPath ? { network: netnsPath.network, user: netnsPath.user } : undefined,
    });
    spec.root.readonly = true;
    await writeFile(join(bundle, "config.json"), specJson(spec));
    // crun refuses to create on this host's hybrid cgroup layout outside such a namespace.
    const create = this.cli("create", "--bundle", bundle, id);
    await detached(this.name === "crun" ? this.ns.wrap(create, bundle) : create, join(bundle, "create.log"));
    await run(this.cli("start", id));
    return id;
  }

  exec(id: string, ...argv: string[]): Promise<unknown> {
    return run(this.cli("exec", id, ...argv));
  }

  async delete(id: string): Promise<void> {
    await Promise.all([run(this.cli("delete", "--force", id)), this.links?.destroy(id)]);
    await rm(join(this.dir, id), { recursive: true, force: true });
  }

  /** conmon + `<runtime> exec` as wardend starts a job, timed to its exit file. */
  async supervisedExec(id: string, jobs: string): Promise<void> {
    const dir = join(jobs, String(this.n++));
    await mkdir(dir, { recursive: true });
    const process = {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ["/bin/bash", "-c", "true"],
      env: ["PATH=/bin:/usr/bin"],
      cwd: "/",
    };
    await writeFile(join(dir, "process.json"), JSON.stringify(process));
    const child = spawn(
      "/usr/bin/conmon",
      [
        "--api-version", "1", "-c", id, "-u", `${id}-${this.n}`, "-n", id, "-r", BINARY[this.name],
        "--runtime-arg", `--root=${join(this.dir, "state")}`,
        "-p", join(dir, "pid"), "-P", join(dir, "conmon.pid"), "--persist-dir", dir,
        "--exec", "--exec-process-spec", join(dir, "process.json"), "-l", "passthrough",
      ],
      { cwd: dir, detached: true, stdio: "ignore" },
    );
    child.unref();
    await waitFor(dir, async () => (await readFile(join(dir, "exit"), "utf8").catch(() => undefined)) ?? undefined, {
      timeoutMs: 10_000,
      what: "exit",
    });
  }
}

/**
 * `<runtime> create` leaves the container's init holding the stdio it was
 * given until the container ends: give it a file, and wait for the exit only.
 */
export async function detached(argv: string[], log: string): Promise<void> {
  const fd = openSync(log, "a");
  try {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", fd, fd] });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", resolve);
    });
    if (code !== 0) throw new Error(`${argv.join(" ")} exited with ${code}: ${await readFile(log, "utf8")}`);
  } finally {
    closeSync(fd);
  }
}

