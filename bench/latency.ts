// Latency of wardend against the raw OCI runtime, measured side by side in
// one run on the same root filesystem:
//   (a) Run `true` in an existing container   vs  <runtime> exec
//   (b) create + Run `echo hi` + destroy       vs  <runtime> create + start + exec + delete
// plus the supervisor alone (conmon + <runtime> exec, waiting for its exit
// file), to show how much of (a) is conmon's.
//
//   npm run build && node dist/bench/latency.js [runs]      (as root; default 30 runs)
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../src/linux/command.js";
import { buildBundle } from "../src/linux/runtime/bundle.js";
import { RuntimeMountNamespace } from "../src/linux/runtime/mount-namespace.js";
import { NamespacedLinks } from "../src/linux/network/links.js";
import { ContainerIdGenerator } from "../src/core/container-id.js";
import { specJson } from "../src/linux/runtime/oci-spec.js";
import { waitFor } from "../src/linux/wait-for.js";
import { DEFAULT_ROOTFS, startDaemon, type RuntimeName } from "../test/integration/harness.js";

const RUNS = Number(process.argv[2] ?? process.env.BENCH_RUNS ?? 30);
const WARMUP = 3;
const BINARY: Record<RuntimeName, string> = { crun: "/usr/bin/crun", runc: "/usr/sbin/runc" };

interface Stats {
  min: number;
  median: number;
  p90: number;
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { min: s[0], median: at(0.5), p90: at(0.9) };
}

async function time(fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

/** The raw runtime, driven as a user of it would: a bundle on the base rootfs, catatonit as init. */
class RawRuntime {
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
      namespaces: netnsPath,
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
async function detached(argv: string[], log: string): Promise<void> {
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

function row(label: string, s: Stats): string {
  return `  ${label.padEnd(48)} ${s.median.toFixed(1).padStart(7)} ${s.min.toFixed(1).padStart(7)} ${s.p90.toFixed(1).padStart(7)}`;
}

async function bench(runtime: RuntimeName): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), "wardenbench-"));
  const ns = new RuntimeMountNamespace(join(scratch, "run"));
  const netnsDir = join(scratch, "run", "netns");
  await ns.ensure([netnsDir]);
  const raw = new RawRuntime(runtime, scratch, ns);
  const rawNetworked = new RawRuntime(runtime, scratch, ns, new NamespacedLinks(netnsDir, 1500));
  // BENCH_USERNS=off: containers without a user namespace (Warden's way), to see what the namespace costs.
  // BENCH_SECCOMP=off: without the seccomp filter.
  const security = {
    ...(process.env.BENCH_USERNS === "off" ? { user_namespace: false } : {}),
    ...(process.env.BENCH_SECCOMP === "off" ? { seccomp_profile: "" } : {}),
  };
  const daemon = await startDaemon({ runtime, config: { logging: { level: "warn" }, security } });
  try {
    const client = await daemon.client();
    const handle = await client.create();
    const rawId = await raw.create();

    // (a), interleaved run by run so drift hits both alike
    const oursA: number[] = [];
    const rawA: number[] = [];
    const supA: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const t0 = process.hrtime.bigint();
      const r = await client.run(handle, "true");
      if (r.exit_status !== 0) throw new Error(`run failed: ${r.stderr}`);
      const t1 = process.hrtime.bigint();
      await raw.exec(rawId, "/bin/bash", "-c", "true");
      const t2 = process.hrtime.bigint();
      await raw.supervisedExec(rawId, join(scratch, "jobs"));
      const t3 = process.hrtime.bigint();
      if (i < WARMUP) continue;
      oursA.push(Number(t1 - t0) / 1e6);
      rawA.push(Number(t2 - t1) / 1e6);
      supA.push(Number(t3 - t2) / 1e6);
    }
    await client.destroy(handle);
    await raw.delete(rawId);

    // (b)
    const oursB = await time(async () => {
      const h = await client.create();
      const r = await client.run(h, "echo hi");
      if (r.stdout !== "hi\n") throw new Error(`unexpected output ${JSON.stringify(r.stdout)}`);
      await client.destroy(h);
    });
    const rawB = await time(async () => {
      const id = await raw.create();
      await raw.exec(id, "/bin/bash", "-c", "echo hi");
      await raw.delete(id);
    });
    const rawNetB = await time(async () => {
      const id = await rawNetworked.create();
      await rawNetworked.exec(id, "/bin/bash", "-c", "echo hi");
      await rawNetworked.delete(id);
    });

    const a = { ours: stats(oursA), raw: stats(rawA), sup: stats(supA) };
    const b = { ours: stats(oursB), raw: stats(rawB), rawNet: stats(rawNetB) };
    console.log(`\n${runtime}: ${RUNS} runs each, ms                                 median     min     p90`);
    console.log(row("(a) wardend Run `true` in a container", a.ours));
    console.log(row(`(a) ${runtime} exec bash -c true`, a.raw));
    console.log(row(`    conmon + ${runtime} exec (the supervisor alone)`, a.sup));
    console.log(row("(b) wardend create + Run `echo hi` + destroy", b.ours));
    console.log(row(`(b) ${runtime} create + start + exec + delete`, b.raw));
    console.log(row(`    the same, with wardend's network plumbing`, b.rawNet));
    console.log(`  ratio (a): ${(a.ours.median / a.raw.median).toFixed(2)}x   (target <= 2x)`);
    console.log(`  ratio (b): ${(b.ours.median / b.raw.median).toFixed(2)}x   (target <= 2x)`);
    console.log(`  ratio (b) against the runtime with the same network: ${(b.ours.median / b.rawNet.median).toFixed(2)}x`);
    console.log(
      `  of (a), conmon's own cost is ${(a.sup.median - a.raw.median).toFixed(1)} ms ` +
        `(${(((a.sup.median - a.raw.median) / a.ours.median) * 100).toFixed(0)} % of wardend's Run)`,
    );
  } finally {
    await daemon.stop();
    await ns.teardown();
    await ns.unshare(netnsDir);
    await rm(join(scratch, "state"), { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
    // runc makes the parent in the unified hierarchy too, where it runs outside our namespace.
    for (const controller of await readdir("/sys/fs/cgroup")) {
      await rmdir(`/sys/fs/cgroup/${controller}/warden-bench-raw`).catch(() => {});
    }
  }
}

const which = (process.env.BENCH_RUNTIMES ?? "crun,runc").split(",") as RuntimeName[];
for (const runtime of which) await bench(runtime);
