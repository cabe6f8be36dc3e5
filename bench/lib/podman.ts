// Podman as a peer to measure against, kept apart from the host: its storage,
// runtime state, network configuration and temporary files live in a
// scratch directory; its containers run on a copy of our base root
// filesystem through an overlay (`--rootfs DIR:O`, so nothing is written to
// it); its bridge is `w-podman0` on 10.254.240.0/24, in our address space.
// Like wardend, it runs crun inside a mount namespace without the hybrid
// cgroup mount (crun refuses it), and needs low ulimits (root lacks
// CAP_SYS_RESOURCE here). Whatever nftables tables it made are removed after.
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../src/linux/command.js";
import { mountAt, readMountInfo } from "../../src/linux/mountinfo.js";

export const PODMAN_NETWORK = "warden-bench";
export const PODMAN_SUBNET = "10.254.240.0/24";
const LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"];

const LIBPOD_CGROUP = "libpod_parent";

async function libpodCgroups(): Promise<string[]> {
  const hierarchies = await readdir("/sys/fs/cgroup").catch(() => [] as string[]);
  return hierarchies.map((h) => join("/sys/fs/cgroup", h, LIBPOD_CGROUP)).filter((d) => existsSync(d));
}

export class Podman {
  private tablesBefore = new Set<string>();
  private libpodCgroupsBefore = true;
  private netnsDirBefore = true;
  private readonly pin: string;
  private readonly base: string;

  constructor(
    private readonly dir: string,
    private readonly rootfs: string,
  ) {
    this.pin = join(dir, "mnt");
    this.base = join(dir, "base");
  }

  static async ensureInstalled(): Promise<void> {
    if (existsSync("/usr/bin/podman")) return;
    process.stdout.write("installing podman (a peer to measure, not a dependency of wardend)...\n");
    await run(["apt-get", "update"], { timeoutMs: 600_000 });
    await run(["apt-get", "install", "-y", "--no-install-recommends", "podman"], {
      timeoutMs: 900_000,
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  }

  async version(): Promise<string> {
    return (await run(["podman", "--version"])).stdout.trim();
  }

  private async tables(): Promise<string[]> {
    const { stdout } = await run(["nft", "list", "tables"]);
    return stdout.split("\n").filter((l) => l.startsWith("table "));
  }

  async setUp(): Promise<void> {
    this.tablesBefore = new Set(await this.tables());
    this.libpodCgroupsBefore = (await libpodCgroups()).length > 0;
    // Podman pins its containers' network namespaces in /run/netns, wherever its other state goes.
    this.netnsDirBefore = existsSync("/run/netns");
    for (const d of ["storage", "run", "net", "tmp"]) await mkdir(join(this.dir, d), { recursive: true });
    await run(["cp", "-a", "--", this.rootfs, this.base]);
    await writeFile(this.pin, "");
    await writeFile(join(this.dir, "containers.conf"), '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n');
    const hybrid = (await readMountInfo()).some((m) => m.mountPoint === "/sys/fs/cgroup/unified" && m.fsType === "cgroup2");
    await run(["unshare", `--mount=${this.pin}`, "--propagation", "slave", ...(hybrid ? ["umount", "/sys/fs/cgroup/unified"] : ["true"])]);
    // Podman 4.3 cannot name the bridge on the command line; its network file can.
    await run(this.argv("network", "create", "--subnet", PODMAN_SUBNET, PODMAN_NETWORK));
    const file = join(this.dir, "net", `${PODMAN_NETWORK}.json`);
    const config = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...config, network_interface: "w-podman0", dns_enabled: false }, null, 1));
  }

  argv(...args: string[]): string[] {
    return [
      "nsenter", `--mount=${this.pin}`, "podman",
      "--root", join(this.dir, "storage"), "--runroot", join(this.dir, "run"),
      "--network-config-dir", join(this.dir, "net"), "--tmpdir", join(this.dir, "tmp"),
      "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", "crun",
      ...args,
    ];
  }

  /** `podman run --rm` of a command, on the bridge or without a network. */
  async runOnce(network: "bridge" | "none", ...command: string[]): Promise<string> {
    const net = network === "bridge" ? PODMAN_NETWORK : "none";
    return (await run(this.argv("run", "--rm", "--network", net, ...LIMITS, "--rootfs", `${this.base}:O`, ...command))).stdout;
  }

  async start(name: string): Promise<void> {
    await run(this.argv("run", "-d", "--name", name, "--network", "none", ...LIMITS, "--rootfs", `${this.base}:O`, "sleep", "100000"));
  }

  /**
   * A pod round as Podman's pods make it, one podman process per step: a
   * pod (its infra container holding the namespaces) on the bench's bridge,
   * a container in it, started, exec `true`, the pod stopped and removed.
   */
  async podRound(name: string): Promise<void> {
    // The infra container takes no --ulimit: its limits come from a containers.conf of the bench's.
    const env = { ...process.env, CONTAINERS_CONF: join(this.dir, "containers.conf") };
    const step = (...args: string[]) => run(this.argv(...args), { env });
    await step("pod", "create", "--name", name, "--network", PODMAN_NETWORK);
    const id = (await step("create", "--pod", name, ...LIMITS, "--rootfs", `${this.base}:O`, "sleep", "600")).stdout.trim();
    await step("start", id);
    await step("exec", id, "true");
    await step("pod", "stop", "--time", "0", name);
    await step("pod", "rm", name);
  }

  async exec(name: string, ...command: string[]): Promise<string> {
    return (await run(this.argv("exec", name, ...command))).stdout;
  }

  async tearDown(): Promise<void> {
    await run(this.argv("pod", "rm", "--all", "--force")).catch(() => {});
    await run(this.argv("rm", "--all", "--force", "--time", "0")).catch(() => {});
    await run(this.argv("network", "rm", "--force", PODMAN_NETWORK)).catch(() => {});
    // Tables that came with podman (netavark's iptables-nft ones) go with it; others are left alone.
    for (const table of await this.tables()) {
      if (this.tablesBefore.has(table)) continue;
      const [, family, name] = table.split(" ");
      const { stdout } = await run(["nft", "list", "table", family, name]);
      if (stdout.includes("NETAVARK")) await run(["nft", "delete", "table", family, name]);
    }
    if (!this.netnsDirBefore) await rmdir("/run/netns").catch(() => {});
    // With cgroupfs, Podman leaves its (empty) parent cgroup and conmon's behind in every hierarchy.
    if (!this.libpodCgroupsBefore) {
      for (const dir of await libpodCgroups()) {
        const { stdout } = await run(["find", dir, "-depth", "-type", "d"]);
        for (const d of stdout.split("\n").filter(Boolean)) await rmdir(d).catch(() => {});
      }
    }
    if (mountAt(await readMountInfo(), this.pin)) await run(["umount", this.pin]);
    await rm(this.dir, { recursive: true, force: true });
  }
}
