// Garden's front end, side by side in one run: create + run `echo hi` +
// destroy through Garden's HTTP API (over TCP, as Diego and Concourse reach
// it), the same through Warden's protocol, Guardian itself (Garden's
// reference server, ../shared/tools/garden/guardian, started and stopped by
// its scripts), `podman run --rm`, and the floor (crun with the same network
// plumbing). Rounds interleave, so drift hits all alike.
//
//   npm run build && node dist/bench/garden.js [ROUNDS]     (as root; ROUNDS defaults to 20)
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostCommands, run } from "../src/linux/command.js";
import { readMountInfo } from "../src/linux/mountinfo.js";
import { NamespacedLinks } from "../src/linux/network/links.js";
import { RuntimeMountNamespace } from "../src/linux/runtime/mount-namespace.js";
import { DEFAULT_ROOTFS, freePort, REPO, startDaemon } from "../test/integration/harness.js";
import { GardenClient } from "./lib/garden-client.js";
import { Podman } from "./lib/podman.js";
import { RawRuntime } from "./lib/raw-runtime.js";
import { markdownTable, ms, summarize } from "./lib/report.js";

const ROUNDS = Number(process.argv[2] ?? process.env.BENCH_ROUNDS ?? 20);
const WARM_UP = 2;
const GUARDIAN = join(REPO, "../shared/tools/garden/guardian");
const say = (text: string) => process.stdout.write(`${text}\n`);

const ROUND_TIMEOUT_MS = 60_000;

/** How long fn took; a round that hangs fails the run (and its clean-up still runs). */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    fn(),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`a round took over ${ROUND_TIMEOUT_MS} ms`)), ROUND_TIMEOUT_MS))),
  ]).finally(() => clearTimeout(timer));
  return performance.now() - t;
}


/** Guardian on a port of its own; undefined when its tools are not here. */
async function startGuardian(): Promise<{ client: GardenClient; depot: string } | undefined> {
  if (!existsSync(join(GUARDIAN, "start-guardian.sh"))) return undefined;
  const port = await freePort();
  const { stdout } = await run([join(GUARDIAN, "start-guardian.sh"), "--port", String(port), "--log-level", "error"], { timeoutMs: 60_000 });
  const depot = /^depot (.+)$/m.exec(stdout)?.[1];
  if (!depot) throw new Error(`start-guardian.sh said:\n${stdout}`);
  return { client: new GardenClient({ host: "127.0.0.1", port }), depot };
}

async function gardenRound(client: GardenClient): Promise<void> {
  const h = await client.create();
  const r = await client.run(h, { path: "echo", args: ["hi"] });
  if (r.stdout !== "hi\n" || r.exitStatus !== 0) throw new Error(`echo hi gave ${JSON.stringify(r)}`);
  await client.destroy(h);
}

const settle = () => new Promise((r) => setTimeout(r, 150));

/**
 * gdn mounts the v1 hierarchies it misses where the host has none
 * (hugetlb, net_cls, net_prio, perf_event here) and leaves their directories
 * on /sys/fs/cgroup's tmpfs when it goes; runtimes then write plain files
 * into them. What it added and is no mount is removed.
 */
async function removeStrayCgroupDirs(before: string[]): Promise<void> {
  const mounted = new Set((await readMountInfo()).map((m) => m.mountPoint));
  for (const name of await readdir("/sys/fs/cgroup")) {
    const path = join("/sys/fs/cgroup", name);
    if (before.includes(name) || mounted.has(path)) continue;
    await rm(path, { recursive: true, force: true });
    say(`removed ${path}, left by gdn`);
  }
}

await Podman.ensureInstalled();
const scratch = await mkdtemp(join(tmpdir(), "wardenbench-garden-"));
const port = await freePort();
const daemon = await startDaemon({ config: { logging: { level: "warn" }, garden: { bind_port: port } } });
const ns = new RuntimeMountNamespace(join(scratch, "raw-run"), hostCommands);
const netnsDir = join(scratch, "raw-run", "netns");
const podman = new Podman(join(scratch, "podman"), DEFAULT_ROOTFS);
let guardian: Awaited<ReturnType<typeof startGuardian>>;
let cgroupDirsBefore: string[] | undefined;
const ours = new GardenClient({ host: "127.0.0.1", port });
try {
  await ns.ensure([netnsDir]);
  const floor = new RawRuntime("crun", join(scratch, "raw"), ns, new NamespacedLinks(netnsDir, 1500, hostCommands));
  await podman.setUp();
  // Podman's first bridged run adds netavark's iptables rules: made before Guardian starts, they are
  // in the host state its stop script compares against, and not taken for its own leftovers.
  await podman.runOnce("bridge", "true");
  cgroupDirsBefore = await readdir("/sys/fs/cgroup");
  guardian = await startGuardian();
  const warden = await daemon.client();
  const samples: Record<string, number[]> = {
    "wardend, Garden API (TCP)": [],
    "wardend, Warden protocol": [],
    ...(guardian ? { "Guardian (gdn + runc)": [] } : {}),
    "podman run --rm (bridge)": [],
    "floor: crun + network": [],
  };
  say(`create + run \`echo hi\` + destroy, ${ROUNDS} rounds (after ${WARM_UP} to warm up) ...`);
  for (let i = 0; i < ROUNDS + WARM_UP; i++) {
    const round: Record<string, number> = {};
    round["wardend, Garden API (TCP)"] = await timed(() => gardenRound(ours));
    round["wardend, Warden protocol"] = await timed(async () => {
      const h = await warden.create();
      if ((await warden.run(h, "echo hi")).stdout !== "hi\n") throw new Error("wardend's job said otherwise");
      await warden.destroy(h);
    });
    if (guardian) round["Guardian (gdn + runc)"] = await timed(() => gardenRound(guardian!.client));
    await settle();
    round["podman run --rm (bridge)"] = await timed(async () => {
      if ((await podman.runOnce("bridge", "echo", "hi")) !== "hi\n") throw new Error("podman's job said otherwise");
    });
    await settle();
    round["floor: crun + network"] = await timed(async () => {
      const id = await floor.create();
      await floor.exec(id, "/bin/echo", "hi");
      await floor.delete(id);
    });
    if (i >= WARM_UP) for (const [k, v] of Object.entries(round)) samples[k].push(v);
  }
  const median = (k: string) => summarize(samples[k]).median;
  const garden = median("wardend, Garden API (TCP)");
  const ratio = (k: string | undefined) => (k && samples[k] ? `${(garden / median(k)).toFixed(2)}x` : "–");
  const rows = Object.entries(samples).map(([k, v]) => {
    const s = summarize(v);
    return [k, ms(s.median), ms(s.p90), ms(s.min), `${(s.median / garden).toFixed(2)}x`];
  });
  say("");
  say(markdownTable(["", "median ms", "p90", "min", "against Garden API"], rows));
  say("");
  say(`Garden API against Guardian: ${ratio(guardian ? "Guardian (gdn + runc)" : undefined)} (target at most 0.25x)`);
  say(`against Warden's protocol: ${ratio("wardend, Warden protocol")}, against podman: ${ratio("podman run --rm (bridge)")}, against the floor: ${ratio("floor: crun + network")}`);
} finally {
  ours.close();
  guardian?.client.close();
  // It exits 1 when it sees the cgroup directories gdn left; those go next.
  if (guardian) await run([join(GUARDIAN, "stop-guardian.sh"), guardian.depot], { timeoutMs: 120_000 }).catch((err) => say(`stop-guardian: ${String(err).split(": ").slice(-1)[0]}`));
  if (cgroupDirsBefore) await removeStrayCgroupDirs(cgroupDirsBefore);
  // The mount namespaces of Podman and of the floor hold copies of the daemon's depot mount: they go first.
  await podman.tearDown().catch((err) => say(`podman teardown: ${String(err)}`));
  await ns.teardown().catch(() => {});
  await ns.unshare(netnsDir).catch(() => {});
  await daemon.stop().catch((err) => say(`wardend: ${String(err)}`));
  await rm(scratch, { recursive: true, force: true });
  for (const h of await readdir("/sys/fs/cgroup")) await rmdir(join("/sys/fs/cgroup", h, "warden-bench-raw")).catch(() => {});
}
