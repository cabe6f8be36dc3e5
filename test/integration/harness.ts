// A real wardend on a temporary socket, depot and run directory, driven
// through the client. stop() destroys what the test left, stops the daemon
// and fails if anything of it is left on the machine.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { WardenClient } from "../../src/client/client.js";
import { loadConfig } from "../../src/config/load.js";
import type { ContainerService } from "../../src/core/service/container-service.js";
import { startDaemon as startWardend, type RunningDaemon } from "../../src/daemon/wardend.js";
import { run } from "../../src/linux/command.js";
import { createLogger } from "../../src/log.js";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "../../..");
export const DEFAULT_ROOTFS = process.env.WARDEN_ROOTFS ?? "/var/lib/warden/rootfs";
export const RUNTIMES = ["crun", "runc"] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

export interface DaemonOptions {
  runtime?: RuntimeName;
  /** Merged over the test defaults, section by section. */
  config?: Record<string, Record<string, unknown>>;
  /** Runs before the daemon starts, given its directory (to stage a host state). */
  prepare?: (dir: string) => Promise<void>;
  /** Serves Kubernetes' CRI on `criSocket` too. */
  cri?: boolean;
}

const CRI_SOCKET = "cri.sock";

export class TestDaemon {
  private stopped = false;
  private readonly clients: WardenClient[] = [];

  constructor(
    readonly dir: string,
    readonly socket: string,
    readonly cgroupParent: string,
    readonly nftTable: string,
    private readonly linksBefore: Set<string>,
    private child: ChildProcess,
    private readonly output: { text: string },
    private readonly configPath: string,
  ) {}

  /** Where the CRI is served, when asked for (DaemonOptions.cri). */
  get criSocket(): string {
    return join(this.dir, CRI_SOCKET);
  }

  get depot(): string {
    return join(this.dir, "depot");
  }

  get runDir(): string {
    return join(this.dir, "run");
  }

  get logs(): string {
    return this.output.text;
  }

  get pid(): number {
    return this.child.pid!;
  }

  async client(): Promise<WardenClient> {
    const c = await WardenClient.connect(this.socket);
    this.clients.push(c);
    return c;
  }

  /** Kills the daemon outright (no shutdown): containers and their supervisors live on. */
  async kill(): Promise<void> {
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGKILL");
    await exited;
  }

  /** Stops the daemon as an operator would (SIGTERM): containers keep running. */
  async terminate(): Promise<void> {
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }

  /** Sends `signal` and resolves when the daemon has exited. */
  async signal(signal: NodeJS.Signals): Promise<void> {
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill(signal);
    await exited;
  }

  /** Starts the daemon again on the same config (after kill() or terminate()). */
  async restart(): Promise<void> {
    const started = await launch(this.configPath, this.socket, this.output);
    this.child = started;
  }

  /** Mounts in the runtime's private mount namespace under the depot (container root filesystems). */
  async namespaceMounts(): Promise<string[]> {
    const pin = join(this.runDir, "ns/mnt");
    if (!existsSync(pin)) return [];
    const { stdout } = await run(["nsenter", `--mount=${pin}`, "cat", "/proc/self/mounts"]).catch(() => ({ stdout: "" }));
    return stdout.split("\n").filter((l) => l.startsWith("overlay ") && l.includes(this.depot));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const c of this.clients) c.close();
    const c = await WardenClient.connect(this.socket);
    for (const handle of (await c.call("List")).handles) {
      await c.destroy(handle).catch(() => {});
    }
    c.close();
    // Destroy answers before its clean-up: the mounts go a moment later, while the namespace is still there to look in.
    const inNamespace = await eventually(async () => {
      const mounts = await this.namespaceMounts();
      return mounts.length === 0 ? mounts : undefined;
    }, "the overlays of destroyed containers to be unmounted").catch(async () => this.namespaceMounts());
    const exited = new Promise<number | null>((r) => this.child.once("exit", (code) => r(code)));
    this.child.kill("SIGTERM");
    const code = await exited;
    try {
      assert.equal(code, 0, `wardend exited with ${code}\n${this.logs}`);
      assert.deepEqual(inNamespace, [], "overlays left in the runtime mount namespace");
      await assertNothingLeft(this.dir, this.cgroupParent);
      await assertNoNetworkLeft(this.nftTable, this.linksBefore);
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}

async function launch(configPath: string, socket: string, output: { text: string }): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(REPO, "bin/wardend"), "--config", configPath], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (b: Buffer) => (output.text += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (output.text += b.toString()));
  let exited: number | null | undefined;
  child.once("exit", (code) => (exited = code));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`wardend exited with ${exited}:\n${output.text}`);
    try {
      const c = await WardenClient.connect(socket);
      await c.call("Ping");
      c.close();
      return child;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`wardend did not answer:\n${output.text}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Host uid of container root: the default security.uid_map_start. */
export const USERNS_ROOT = 1_000_000_000;

interface TestSetting {
  dir: string;
  socket: string;
  cgroupParent: string;
  nftTable: string;
  configPath: string;
  config: Record<string, unknown>;
}

// A directory of its own, names of its own (cgroups, nftables table), and the config pointing at them.
async function testSetting(options: DaemonOptions): Promise<TestSetting> {
  const dir = await mkdtemp(join(tmpdir(), "wardentest-"));
  // Container root, an unprivileged uid, passes through on its way to its root filesystem.
  await chmod(dir, 0o711);
  const socket = join(dir, "w.sock");
  const cgroupParent = `warden-test-${process.pid}-${dir.slice(-6)}`;
  const nftTable = `wt${process.pid}${dir.slice(-6)}`.replace(/[^A-Za-z0-9]/g, "x");
  const extra = options.config ?? {};
  const config = {
    ...extra,
    server: {
      unix_domain_path: socket,
      container_depot_path: join(dir, "depot"),
      container_rootfs_path: DEFAULT_ROOTFS,
      run_path: join(dir, "run"),
      cgroup_parent: cgroupParent,
      container_grace_time: null,
      runtime: options.runtime ?? "crun",
      ...(extra.server ?? {}),
    },
    logging: { level: "debug", ...(extra.logging ?? {}) },
    network: { nft_table: nftTable, ...(extra.network ?? {}) },
    ...(options.cri ? { cri: { socket: join(dir, CRI_SOCKET), ...(extra.cri ?? {}) } } : {}),
  };
  const configPath = join(dir, "wardend.yml");
  await writeFile(configPath, stringify(config));
  await options.prepare?.(dir);
  return { dir, socket, cgroupParent, nftTable, configPath, config };
}

let staleCleaned: Promise<void> | undefined;

/**
 * What test daemons of earlier runs left on the machine (a run killed
 * midway: its containers' networks, nftables table, cgroups, mounts) is
 * removed first, by a daemon on the same config: a leftover table of the
 * same pool rejects the traffic of every container after it. Only
 * directories whose test process is gone are touched.
 */
async function cleanStaleTestDaemons(): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith("wardentest-")) continue;
    const dir = join(tmpdir(), name);
    const configPath = join(dir, "wardend.yml");
    const config = await readFile(configPath, "utf8").catch(() => undefined);
    const owner = config && /cgroup_parent: warden-test-(\d+)-/.exec(config);
    if (!owner || Number(owner[1]) === process.pid || existsSync(`/proc/${owner[1]}`)) continue;
    for (const p of await processesMentioning(dir)) process.kill(Number(p.split(":")[0]), "SIGKILL");
    const output = { text: "" };
    try {
      const socket = join(dir, "w.sock");
      const child = await launch(configPath, socket, output);
      const c = await WardenClient.connect(socket);
      for (const handle of (await c.call("List")).handles) await c.destroy(handle).catch(() => {});
      c.close();
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    } catch (err) {
      console.error(`could not clean the leftovers of ${dir}: ${err}\n${output.text}`);
    }
  }
}

export async function startDaemon(options: DaemonOptions = {}): Promise<TestDaemon> {
  await (staleCleaned ??= cleanStaleTestDaemons());
  const linksBefore = new Set(await ourLinks());
  const { dir, socket, cgroupParent, nftTable, configPath } = await testSetting(options);
  const output = { text: "" };
  const child = await launch(configPath, socket, output);
  return new TestDaemon(dir, socket, cgroupParent, nftTable, linksBefore, child, output, configPath);
}

/**
 * A daemon in this process, for tests of the core itself (what no front end
 * reaches yet) on real containers. restart() stops it as SIGTERM would and
 * starts another on the same depot; stop() destroys what is left and checks
 * that nothing of it stayed on the machine.
 */
export class InProcessDaemon {
  private stopped = false;

  private constructor(
    private readonly setting: TestSetting,
    private readonly linksBefore: Set<string>,
    private running: RunningDaemon,
  ) {}

  static async start(options: DaemonOptions = {}): Promise<InProcessDaemon> {
    await (staleCleaned ??= cleanStaleTestDaemons());
    const linksBefore = new Set(await ourLinks());
    const setting = await testSetting(options);
    return new InProcessDaemon(setting, linksBefore, await startInProcess(setting));
  }

  get service(): ContainerService {
    return this.running.service;
  }

  get dir(): string {
    return this.setting.dir;
  }

  async restart(): Promise<void> {
    await this.running.stop();
    this.running = await startInProcess(this.setting);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.running.service.destroyAll();
    await this.running.stop();
    try {
      await assertNothingLeft(this.setting.dir, this.setting.cgroupParent);
      await assertNoNetworkLeft(this.setting.nftTable, this.linksBefore);
    } finally {
      await rm(this.setting.dir, { recursive: true, force: true });
    }
  }
}

// Its log goes to a file beside its depot: the test runner owns stdout.
async function startInProcess(setting: TestSetting): Promise<RunningDaemon> {
  return startWardend(loadConfig(setting.configPath), createLogger({ level: "debug", file: join(setting.dir, "wardend.log") }));
}

/** Fails when mounts, cgroups or processes of a test directory are still on the machine. */
export async function assertNothingLeft(dir: string, cgroupParent: string): Promise<void> {
  const mounts = (await readFile("/proc/self/mounts", "utf8")).split("\n").filter((l) => l.includes(dir));
  assert.deepEqual(mounts, [], "mounts left behind");
  const cgroups: string[] = [];
  for (const controller of await readdir("/sys/fs/cgroup")) {
    if (existsSync(join("/sys/fs/cgroup", controller, cgroupParent))) cgroups.push(controller);
  }
  assert.deepEqual(cgroups, [], "cgroups left behind");
  const processes = await processesMentioning(dir);
  assert.deepEqual(processes, [], "processes left behind");
  // A loop device set to clear itself goes when its filesystem's last user does, a moment after the unmount.
  const attached = async () => (await run(["losetup", "-a"])).stdout.split("\n").filter((l) => l.includes(dir));
  await eventually(async () => (await attached()).length === 0, "the depot's loop device to detach", 5000).catch(() => {});
  assert.deepEqual(await attached(), [], "loop devices left attached");
  const depot = join(dir, "depot");
  // The image store is a cache kept on purpose; what it must not keep is a hold or a download of nobody.
  const left = existsSync(depot) ? (await readdir(depot)).filter((e) => e !== ".images") : [];
  assert.deepEqual(left, [], "depot entries left behind");
  for (const part of ["holds", "tmp"]) {
    const path = join(depot, ".images", part);
    assert.deepEqual(existsSync(path) ? await readdir(path) : [], [], `image store ${part} left behind`);
  }
  assert.equal(existsSync(join(dir, "run", "ns", "mnt")), false, "runtime mount namespace left pinned");
  assert.equal(existsSync(join(dir, "run")), false, "the run directory left behind");
}

export async function processesMentioning(text: string): Promise<string[]> {
  const out: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(text)) out.push(`${pid}: ${cmdline.replace(/\0/g, " ")}`);
  }
  return out;
}

/** Interfaces named like ours (w-<id>-N). */
export async function ourLinks(): Promise<string[]> {
  const { stdout } = await run(["ip", "-o", "link", "show"]);
  return [...stdout.matchAll(/^\d+: (w-[0-9a-v]{11}-[012])[@:]/gm)].map((m) => m[1]);
}

/** Fails when interfaces made since the daemon started, or its nftables table, are still there. */
export async function assertNoNetworkLeft(table: string, before: Set<string>): Promise<void> {
  const links = (await ourLinks()).filter((l) => !before.has(l));
  assert.deepEqual(links, [], "interfaces left behind");
  const { stdout } = await run(["nft", "list", "tables"]);
  assert.ok(!stdout.includes(` ${table}\n`) && !stdout.endsWith(` ${table}`), `nftables table ${table} left behind`);
}

/** A loopback port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * Polls `check` until it answers something truthy, and answers that; fails
 * naming `what` after `timeoutMs`. For waits on a condition: never a sleep.
 */
export async function eventually<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
