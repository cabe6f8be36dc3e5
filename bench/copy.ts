// CopyIn and CopyOut of a large file against cp of the same file, and the
// daemon's memory while they run (the copy streams: it must stay bounded).
//
//   npm run build && node dist/bench/copy.js [MiB]      (as root; default 1024)
import { execFileSync } from "node:child_process";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon } from "../test/integration/harness.js";

const MIB = Number(process.argv[2] ?? 1024);

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** Runs `fn`, sampling the daemon's resident memory every 20 ms; returns seconds and the peak in MiB. */
async function measured(pid: number, fn: () => Promise<unknown>): Promise<{ seconds: number; peakMiB: number }> {
  let peak = await rssKiB(pid);
  const sampler = setInterval(() => void rssKiB(pid).then((r) => (peak = Math.max(peak, r))), 20);
  const t = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(sampler);
  }
  return { seconds: (performance.now() - t) / 1000, peakMiB: peak / 1024 };
}

const dir = await mkdtemp(join(tmpdir(), "wardenbench-copy-"));
// BENCH_QUOTA=off: the depot on the host's own filesystem, without the btrfs image.
const quotaOff = process.env.BENCH_QUOTA === "off";
const daemon = await startDaemon({
  config: { logging: { level: "warn" }, server: quotaOff ? { quota: { disk_quota_enabled: false } } : {} },
});
try {
  const file = join(dir, "big");
  const handle = await open(file, "w");
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  for (let i = 0; i < MIB; i++) await handle.write(chunk);
  await handle.close();
  execFileSync("sync");

  const c = await daemon.client();
  const h = await c.create();
  const idle = (await rssKiB(daemon.pid)) / 1024;
  const depotFile = join(daemon.depot, "cp-copy");
  // Each operation is timed until its data is on disk (sync): page-cache timings mislead.
  const synced = (fn: () => Promise<unknown>) => async () => {
    await fn();
    execFileSync("sync");
  };
  // Each starts with nothing left to write back, and no earlier copy to replace.
  const clean = async () => {
    for (const f of ["cp-copy", "cp-back", "out"]) await rm(join(dir, f), { force: true });
    await c.run(h, "rm -f ~/big");
    execFileSync("sync");
  };
  const rounds: Record<string, Array<{ seconds: number; peakMiB: number }>> = {};
  const record = (name: string, m: { seconds: number; peakMiB: number }) => (rounds[name] ??= []).push(m);
  for (let round = 0; round < 3; round++) {
    await clean();
    record("cp, host to host", await measured(daemon.pid, synced(async () => execFileSync("cp", [file, join(dir, "cp-copy")]))));
    await rm(depotFile, { force: true });
    execFileSync("sync");
    record("cp, host to the depot's filesystem", await measured(daemon.pid, synced(async () => execFileSync("cp", [file, depotFile]))));
    await rm(join(dir, "cp-back"), { force: true });
    execFileSync("sync");
    record("cp, the depot's filesystem to host", await measured(daemon.pid, synced(async () => execFileSync("cp", [depotFile, join(dir, "cp-back")]))));
    await clean();
    record("CopyIn", await measured(daemon.pid, synced(() => c.call("CopyIn", { handle: h, src_path: file, dst_path: "/home/vcap/big" }))));
    await rm(join(dir, "out"), { force: true });
    execFileSync("sync");
    record("CopyOut", await measured(daemon.pid, synced(() => c.call("CopyOut", { handle: h, src_path: "/home/vcap/big", dst_path: join(dir, "out") }))));
    const size = Number(execFileSync("stat", ["-c", "%s", join(dir, "out")]).toString());
    if (size !== MIB * 1024 * 1024) throw new Error(`copied ${size} bytes`);
    for (const f of ["cp-copy", "cp-back"]) await rm(join(dir, f), { force: true });
    await rm(depotFile, { force: true });
  }
  const median = (name: string) => [...rounds[name]].sort((a, b) => a.seconds - b.seconds)[1];
  const peak = (name: string) => Math.max(...rounds[name].map((m) => m.peakMiB));
  const rate = (s: number) => (MIB / s).toFixed(0);
  console.log(`\n${MIB} MiB file, 3 rounds, each until sync returns: median s, MiB/s; daemon peak RSS (idle ${idle.toFixed(0)} MiB)`);
  for (const name of Object.keys(rounds)) {
    const m = median(name);
    console.log(`  ${name.padEnd(38)}${m.seconds.toFixed(2).padStart(7)} s ${rate(m.seconds).padStart(6)} MiB/s   peak ${peak(name).toFixed(0)} MiB`);
  }
  const ratio = (a: string, b: string) => (median(b).seconds / median(a).seconds).toFixed(2);
  console.log(`  CopyIn  against cp to the same filesystem:   ${ratio("CopyIn", "cp, host to the depot's filesystem")}x   against cp host to host: ${ratio("CopyIn", "cp, host to host")}x`);
  console.log(`  CopyOut against cp from the same filesystem: ${ratio("CopyOut", "cp, the depot's filesystem to host")}x   against cp host to host: ${ratio("CopyOut", "cp, host to host")}x`);
  console.log("  (target: at least half of cp's rate; the daemon's memory does not grow with the file)");
  await c.destroy(h);
} finally {
  await daemon.stop();
  await rm(dir, { recursive: true, force: true });
}
