// Latency of wardend against the raw OCI runtime, measured side by side in
// one run on the same root filesystem:
//   (a) Run `true` in an existing container   vs  <runtime> exec
//   (b) create + Run `echo hi` + destroy       vs  <runtime> create + start + exec + delete
// plus conmon + <runtime> exec waiting for its exit file: what a supervised
// exec through the runtime costs, the way wardend started processes before
// its init started them.
//
//   npm run build && node dist/bench/latency.js [runs]      (as root; default 30 runs)
import { mkdtemp, readdir, rm, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RuntimeMountNamespace } from "../src/linux/runtime/mount-namespace.js";
import { NamespacedLinks } from "../src/linux/network/links.js";
import { startDaemon, type RuntimeName } from "../test/integration/harness.js";
import { RawRuntime } from "./lib/raw-runtime.js";
import { hostCommands } from "../src/linux/command.js";

const RUNS = Number(process.argv[2] ?? process.env.BENCH_RUNS ?? 30);
const WARMUP = 3;

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

function row(label: string, s: Stats): string {
  return `  ${label.padEnd(48)} ${s.median.toFixed(1).padStart(7)} ${s.min.toFixed(1).padStart(7)} ${s.p90.toFixed(1).padStart(7)}`;
}

async function bench(runtime: RuntimeName): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), "wardenbench-"));
  const ns = new RuntimeMountNamespace(join(scratch, "run"), hostCommands);
  const netnsDir = join(scratch, "run", "netns");
  await ns.ensure([netnsDir]);
  const raw = new RawRuntime(runtime, scratch, ns);
  const rawNetworked = new RawRuntime(runtime, scratch, ns, new NamespacedLinks(netnsDir, 1500, hostCommands));
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
    console.log(`  ratio (a): ${(a.ours.median / a.raw.median).toFixed(2)}x   (issue 15's target: <= 1.5x)`);
    console.log(`  ratio (b): ${(b.ours.median / b.raw.median).toFixed(2)}x   (against the runtime without a network)`);
    console.log(`  ratio (b) against the runtime with the same network: ${(b.ours.median / b.rawNet.median).toFixed(2)}x   (issue 15's target: <= 1.3x)`);
    console.log(`  (a) wardend starts processes through the container's init, without the runtime: conmon + exec is the old way's floor`);
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
