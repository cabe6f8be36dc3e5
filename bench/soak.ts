// Soak: create, run, destroy, many times over. Everything of ours on the
// host is counted before and after (mounts, interfaces, firewall chains,
// cgroups, loop devices, supervisor processes, the daemon's descriptors),
// and the daemon's memory growth is reported.
//
//   npm run build && node dist/bench/soak.js [cycles]      (as root; default 500)
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../src/linux/command.js";
import { ourLinks, processesMentioning, startDaemon, type TestDaemon } from "../test/integration/harness.js";

const CYCLES = Number(process.argv[2] ?? 500);

async function counts(daemon: TestDaemon): Promise<Record<string, number>> {
  const hostMounts = (await readFile("/proc/self/mounts", "utf8")).split("\n").filter((l) => l.includes(daemon.dir));
  let cgroups = 0;
  for (const controller of await readdir("/sys/fs/cgroup")) {
    cgroups += (await readdir(join("/sys/fs/cgroup", controller, daemon.cgroupParent)).catch(() => [])).filter((n) =>
      /^[0-9a-v]{11}$/.test(n),
    ).length;
  }
  const { stdout: table } = await run(["nft", "list", "table", "inet", daemon.nftTable]);
  const { stdout: loops } = await run(["losetup", "-a"]);
  const status = await readFile(`/proc/${daemon.pid}/status`, "utf8");
  return {
    "host mounts": hostMounts.length,
    "namespace mounts": (await daemon.namespaceMounts()).length,
    interfaces: (await ourLinks()).length,
    "firewall chains": [...table.matchAll(/chain warden-i-/g)].length,
    cgroups,
    "loop devices": loops.split("\n").filter((l) => l.includes(daemon.dir)).length,
    supervisors: (await processesMentioning(join(daemon.runDir, "crun"))).length,
    "daemon descriptors": (await readdir(`/proc/${daemon.pid}/fd`)).length,
    "daemon RSS MiB": Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024),
  };
}

const daemon = await startDaemon({ config: { logging: { level: "warn" } } });
try {
  const c = await daemon.client();
  // One cycle first: the daemon's lazy parts (the shifted base, the compiled filter) are made once.
  await c.destroy(await c.create());
  const before = await counts(daemon);
  const started = performance.now();
  for (let i = 0; i < CYCLES; i++) {
    const h = await c.create();
    const r = await c.run(h, "echo hi");
    if (r.stdout !== "hi\n") throw new Error(`cycle ${i}: job said ${JSON.stringify(r.stdout)}`);
    await c.destroy(h);
    if ((i + 1) % 100 === 0) {
      const rss = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${daemon.pid}/status`, "utf8"))![1]) / 1024;
      console.log(`  ${i + 1} cycles, ${((performance.now() - started) / (i + 1)).toFixed(1)} ms each, daemon RSS ${rss.toFixed(0)} MiB`);
    }
  }
  // Let the pools' release delay and any lazy closes pass.
  await new Promise((r) => setTimeout(r, 1000));
  const after = await counts(daemon);
  console.log(`\n${CYCLES} create + run + destroy cycles, ${((performance.now() - started) / CYCLES).toFixed(1)} ms each`);
  console.log("                         before   after");
  for (const key of Object.keys(before)) {
    const mark = key === "daemon RSS MiB" || before[key] === after[key] ? "" : "   <- differs";
    console.log(`  ${key.padEnd(22)} ${String(before[key]).padStart(6)} ${String(after[key]).padStart(7)}${mark}`);
  }
  console.log(`  daemon memory grew by ${after["daemon RSS MiB"] - before["daemon RSS MiB"]} MiB`);
} finally {
  await daemon.stop();
}
