// The benchmark people read: wardend against the floor (the raw runtime with
// the same network primitives) and against Podman, in one run, on the same
// root filesystem. Prints a table and writes bench/results/latest.{json,md,svg}.
//
//   npm run bench            (as root: builds, installs podman if missing, about 4 minutes)
//
// Workloads, 1 to 4 through both front ends (Warden's protocol, Garden's HTTP API on TCP):
//   1. create + run `echo hi` + destroy, networked (Podman: --rm on its bridge, and --network none)
//   2. run `true` in an existing container
//   3. Garden's gate: 5 clients creating 40 containers each, at once
//   4. 50 MB of stdout through Stream (Garden: its stdout attach), against the job writing it to /dev/null
//   5. density: 250 networked containers; memory; create latency at 250 against at 0
//   6. daemon restart with those 250: time until all are back and answering
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { WardenClient } from "../src/client/client.js";
import { run } from "../src/linux/command.js";
import { NamespacedLinks } from "../src/linux/network/links.js";
import { RuntimeMountNamespace } from "../src/linux/runtime/mount-namespace.js";
import { processes } from "../src/linux/process.js";
import { DEFAULT_ROOTFS, freePort, startDaemon, type TestDaemon } from "../test/integration/harness.js";
import { createAtOnce } from "./lib/create-at-once.js";
import { GardenClient } from "./lib/garden-client.js";
import { Podman } from "./lib/podman.js";
import { RawRuntime } from "./lib/raw-runtime.js";
import { markdownTable, ms, summarize, svgChart, type Panel } from "./lib/report.js";
import { hostCommands } from "../src/linux/command.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const EXEC_ROUNDS = Number(process.env.BENCH_EXEC_ROUNDS ?? 40);
const DENSITY = Number(process.env.BENCH_DENSITY ?? 250);
const GATE_CLIENTS = 5;
const GATE_EACH = 40;
const STREAM_BYTES = 50 * 1024 * 1024;
const RESULTS = join(dirname(fileURLToPath(import.meta.url)), "../../bench/results");

const now = () => performance.now();
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = now();
  await fn();
  return now() - t;
}
const say = (text: string) => process.stdout.write(`${text}\n`);

async function hostMemAvailableKiB(): Promise<number> {
  return Number(/MemAvailable:\s+(\d+)/.exec(await readFile("/proc/meminfo", "utf8"))![1]);
}

async function rssKiB(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? 0);
}

// Proportional set size: shared pages (conmon's libraries) counted once over all who share them.
async function pssKiB(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => "");
  return Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
}

/** Memory of the daemon's supervisors (conmon) and container inits, by their state root. */
async function supervisorsKiB(daemon: TestDaemon): Promise<number> {
  const root = `--root=${join(daemon.runDir, "crun")}`;
  let total = 0;
  for (const p of await processes()) {
    if (p.argv[0]?.endsWith("conmon") && p.argv.includes(root)) total += await pssKiB(p.pid);
    else if (p.argv[0] === "/dev/init") total += await pssKiB(p.pid);
  }
  return total;
}

// Podman leaves work behind each call (its cleanup process, conmon exiting):
// let it finish before the next system is timed, so none pays for another.
const settle = () => new Promise((r) => setTimeout(r, 150));

/** Median of each create phase wardend logged between two points of its log. */
function createPhases(logs: string): Record<string, number> {
  const phases: Record<string, number[]> = {};
  for (const line of logs.split("\n")) {
    if (!line.includes('"container created"')) continue;
    const entry = JSON.parse(line) as { ms?: number; phases?: Record<string, number> };
    for (const [k, v] of Object.entries({ total: entry.ms ?? 0, ...(entry.phases ?? {}) })) (phases[k] ??= []).push(v);
  }
  return Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, summarize(v).median]));
}

async function machine(podman: Podman): Promise<Record<string, string>> {
  const version = async (argv: string[]) => (await run(argv)).stdout.split("\n")[0].trim();
  return {
    date: new Date().toISOString(),
    kernel: release(),
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? "?"}`,
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    crun: await version(["crun", "--version"]),
    podman: await podman.version(),
  };
}

const started = now();
await Podman.ensureInstalled();
const scratch = await mkdtemp(join(tmpdir(), "wardenbench-suite-"));
// Stream's 50 MB needs a bigger output limit than the default 10 MiB. Garden's API on TCP, as Diego and Concourse reach it.
const gardenPort = await freePort();
const daemon = await startDaemon({
  config: { logging: { level: "info" }, server: { job_output_limit: 128 * 1024 * 1024 }, garden: { bind_port: gardenPort } },
});
const garden = new GardenClient({ host: "127.0.0.1", port: gardenPort });
const ns = new RuntimeMountNamespace(join(scratch, "raw-run"), hostCommands);
const netnsDir = join(scratch, "raw-run", "netns");
const podman = new Podman(join(scratch, "podman"), DEFAULT_ROOTFS);
const results: Record<string, unknown> = {};
const samples: Record<string, Record<string, number[]>> = {};
let c: WardenClient | undefined;
try {
  await ns.ensure([netnsDir]);
  const floor = new RawRuntime("crun", join(scratch, "raw"), ns, new NamespacedLinks(netnsDir, 1500, hostCommands));
  await podman.setUp();
  results.machine = await machine(podman);
  c = await daemon.client();
  const client = c;

  // 1. create + run + destroy, interleaved round by round so drift hits all alike.
  say("1. create + run `echo hi` + destroy ...");
  const w1: Record<string, number[]> = {
    wardend: [],
    "wardend, Garden API": [],
    "podman run --rm (bridge)": [],
    "podman run --rm (no network)": [],
    "floor: crun + network": [],
  };
  const logMark = daemon.logs.length;
  for (let i = 0; i < ROUNDS + 2; i++) {
    const ours = await timed(async () => {
      const h = await client.create();
      const r = await client.run(h, "echo hi");
      if (r.stdout !== "hi\n") throw new Error(`wardend's job said ${JSON.stringify(r.stdout)}`);
      await client.destroy(h);
    });
    // Each system starts on a quiet machine: Destroy's clean-up runs after its answer.
    await settle();
    const viaGarden = await timed(async () => {
      const h = await garden.create();
      const r = await garden.run(h, { path: "echo", args: ["hi"] });
      if (r.stdout !== "hi\n") throw new Error(`wardend's Garden process said ${JSON.stringify(r.stdout)}`);
      await garden.destroy(h);
    });
    await settle();
    const bridged = await timed(async () => {
      if ((await podman.runOnce("bridge", "echo", "hi")) !== "hi\n") throw new Error("podman's job said otherwise");
    });
    await settle();
    await settle();
    const none = await timed(() => podman.runOnce("none", "echo", "hi"));
    await settle();
    const raw = await timed(async () => {
      const id = await floor.create();
      await floor.exec(id, "/bin/bash", "-c", "echo hi");
      await floor.delete(id);
    });
    if (i < 2) continue; // warm-up
    w1.wardend.push(ours);
    w1["wardend, Garden API"].push(viaGarden);
    w1["podman run --rm (bridge)"].push(bridged);
    w1["podman run --rm (no network)"].push(none);
    w1["floor: crun + network"].push(raw);
  }
  samples.createRunDestroy = w1;
  const phases = createPhases(daemon.logs.slice(logMark));

  // 2. run `true` in an existing container.
  say("2. run `true` in an existing container ...");
  const h2 = await client.create();
  const rawId = await floor.create();
  await podman.start("wardenbench-exec");
  const g2 = await garden.create();
  const w2: Record<string, number[]> = { wardend: [], "wardend, Garden API": [], "crun exec": [], "podman exec": [] };
  for (let i = 0; i < EXEC_ROUNDS + 3; i++) {
    const ours = await timed(() => client.run(h2, "true"));
    const viaGarden = await timed(() => garden.run(g2, { path: "true" }));
    const raw = await timed(() => floor.exec(rawId, "/bin/bash", "-c", "true"));
    const pod = await timed(() => podman.exec("wardenbench-exec", "/bin/bash", "-c", "true"));
    await settle();
    if (i < 3) continue;
    w2.wardend.push(ours);
    w2["wardend, Garden API"].push(viaGarden);
    w2["crun exec"].push(raw);
    w2["podman exec"].push(pod);
  }
  samples.runInExisting = w2;
  await floor.delete(rawId);

  // 4. 50 MB through Stream, against writing it to /dev/null in the container.
  say("4. 50 MB of stdout through Stream ...");
  const w4: Record<string, number[]> = { "Stream 50 MB": [], "Garden attach 50 MB": [], "same job, to /dev/null": [] };
  const produce = `head -c ${STREAM_BYTES} /dev/zero | tr '\\0' a`;
  for (let i = 0; i < 4; i++) {
    const streamed = await timed(async () => {
      const job = await client.spawn(h2, produce);
      let bytes = 0;
      for await (const chunk of client.stream(h2, job)) bytes += chunk.data?.length ?? 0;
      if (bytes !== STREAM_BYTES) throw new Error(`streamed ${bytes} bytes`);
    });
    const attached = await timed(async () => {
      const r = await garden.run(g2, { path: "sh", args: ["-c", produce] }, { countOnly: true });
      if (r.stdoutBytes !== STREAM_BYTES) throw new Error(`attached ${r.stdoutBytes} bytes`);
    });
    const discarded = await timed(() => client.run(h2, `${produce} > /dev/null`));
    if (i === 0) continue;
    w4["Stream 50 MB"].push(streamed);
    w4["Garden attach 50 MB"].push(attached);
    w4["same job, to /dev/null"].push(discarded);
  }
  samples.stream50MB = w4;
  await client.destroy(h2);
  await garden.destroy(g2);

  // 3. Garden's gate: 5 clients, 40 creates each, at once.
  say("3. 5 clients creating 40 containers each, at once ...");
  const wardenClients = await Promise.all(Array.from({ length: GATE_CLIENTS }, () => daemon.client()));
  const gate = await createAtOnce(wardenClients, GATE_EACH);
  // The same through Garden's API, once the pools have the networks back.
  await new Promise((r) => setTimeout(r, 5500));
  const gardenClients = Array.from({ length: GATE_CLIENTS }, () => new GardenClient({ host: "127.0.0.1", port: gardenPort }));
  const gardenGate = await createAtOnce(gardenClients, GATE_EACH);
  for (const gc of gardenClients) gc.close();
  samples.concurrentCreate = { "wardend, 5 clients x 40": gate, "wardend, Garden API, 5 clients x 40": gardenGate };

  // 5. Density: create latency at 0, then 250 alive, memory, create latency at 250.
  say(`5. density: ${DENSITY} networked containers ...`);
  const createOnce = async () => {
    const t = now();
    const h = await client.create();
    const took = now() - t;
    await client.destroy(h);
    // Destroy's clean-up runs after its answer: the next create is measured after it, not beside it.
    await new Promise((r) => setTimeout(r, 300));
    return took;
  };
  // Networks come back to the pool 5 s after their container goes (network.release_delay): wait for them.
  const pooled = () => new Promise((r) => setTimeout(r, 5500));
  await pooled();
  const atZero: number[] = [];
  for (let i = 0; i < 10; i++) atZero.push(await createOnce());
  await pooled();
  const memBefore = await hostMemAvailableKiB();
  const daemonBefore = await rssKiB(daemon.pid);
  const alive: string[] = [];
  for (let i = 0; i < DENSITY; i++) alive.push(await client.create({ grace_time: 3600 }));
  await new Promise((r) => setTimeout(r, 500));
  const memAfter = await hostMemAvailableKiB();
  const daemonAt = await rssKiB(daemon.pid);
  const supervisors = await supervisorsKiB(daemon);
  // The default pool has 256 networks: 6 are left, each create measured here takes one for 5 s.
  const atDensity: number[] = [];
  for (let i = 0; i < 5; i++) atDensity.push(await createOnce());
  samples.createAtDensity = { "create, 0 others": atZero, [`create, ${DENSITY} others`]: atDensity };
  results.density = {
    containers: DENSITY,
    daemonRssMiB: daemonAt / 1024,
    daemonRssBeforeMiB: daemonBefore / 1024,
    hostMemoryPerContainerKiB: (memBefore - memAfter) / DENSITY,
    supervisorsPerContainerKiB: supervisors / DENSITY,
  };

  // 6. Restart with those containers.
  say(`6. restart with ${DENSITY} containers ...`);
  const restarts: Record<string, number> = {};
  for (const how of ["kill -9", "SIGTERM"] as const) {
    if (how === "kill -9") await daemon.kill();
    else await daemon.terminate();
    const t = now();
    await daemon.restart();
    c = await daemon.client();
    const listed = (await c.call("List")).handles.length;
    await c.call("Info", { handle: alive[alive.length - 1] });
    restarts[how] = now() - t;
    if (listed !== DENSITY) throw new Error(`${listed} of ${DENSITY} containers came back`);
  }
  results.restart = restarts;
  const destroyers = await Promise.all(Array.from({ length: 4 }, () => daemon.client()));
  await Promise.all(destroyers.map(async (dc, i) => {
    for (const h of alive.filter((_, j) => j % 4 === i)) await dc.destroy(h);
  }));

  // Report.
  const s1 = Object.fromEntries(Object.entries(w1).map(([k, v]) => [k, summarize(v)]));
  const s2 = Object.fromEntries(Object.entries(w2).map(([k, v]) => [k, summarize(v)]));
  const sGate = summarize(gate);
  const sGardenGate = summarize(samples.concurrentCreate["wardend, Garden API, 5 clients x 40"]);
  const s4 = Object.fromEntries(Object.entries(w4).map(([k, v]) => [k, summarize(v)]));
  const density = results.density as { daemonRssMiB: number; hostMemoryPerContainerKiB: number; supervisorsPerContainerKiB: number };
  const densityRatio = summarize(atDensity).median / summarize(atZero).median;
  // The issue's targets (#15), each for both front ends where it has one; medians unless said.
  const x = (a: number, b: number) => a / b;
  const ratioRow = (name: string, value: number, limit: number) => [name, `${value.toFixed(2)}x`, `<= ${limit}x`, value <= limit] as const;
  const msRow = (name: string, value: number, limit: number) => [name, `${ms(value)} ms`, `<= ${limit} ms`, value <= limit] as const;
  const targets = [
    ratioRow("1. Run `true` vs crun exec, Warden", x(s2.wardend.median, s2["crun exec"].median), 1.5),
    ratioRow("1. Run `true` vs crun exec, Garden", x(s2["wardend, Garden API"].median, s2["crun exec"].median), 1.5),
    ratioRow("2. create+run+destroy vs podman bridged, Warden", x(s1.wardend.median, s1["podman run --rm (bridge)"].median), 0.25),
    ratioRow("2. create+run+destroy vs podman bridged, Garden", x(s1["wardend, Garden API"].median, s1["podman run --rm (bridge)"].median), 0.25),
    ratioRow("2. create+run+destroy vs the floor, Warden", x(s1.wardend.median, s1["floor: crun + network"].median), 1.3),
    ratioRow("2. create+run+destroy vs the floor, Garden", x(s1["wardend, Garden API"].median, s1["floor: crun + network"].median), 1.3),
    msRow("3. 5 x 40 concurrent creates, mean, Warden", sGate.mean, 150),
    msRow("3. 5 x 40 concurrent creates, p99, Warden", sGate.p99, 400),
    msRow("3. 5 x 40 concurrent creates, mean, Garden", sGardenGate.mean, 150),
    msRow("3. 5 x 40 concurrent creates, p99, Garden", sGardenGate.p99, 400),
    ratioRow("4. 50 MB through Stream vs to /dev/null", x(s4["Stream 50 MB"].median, s4["same job, to /dev/null"].median), 1.3),
    ratioRow("4. 50 MB through Garden's attach vs to /dev/null", x(s4["Garden attach 50 MB"].median, s4["same job, to /dev/null"].median), 1.3),
    [`5. daemon memory with ${DENSITY}`, `${density.daemonRssMiB.toFixed(0)} MiB`, "<= 200 MiB", density.daemonRssMiB <= 200] as const,
    ratioRow(`5. create at ${DENSITY} vs at 0`, densityRatio, 1.3),
    msRow(`5. restart with ${DENSITY} (kill -9)`, restarts["kill -9"], 5000),
  ] as const;
  const latencyRows = [
    ...Object.entries(s1).map(([k, v]) => [`1. create + run + destroy`, k, ms(v.median), ms(v.mean), ms(v.p90), ms(v.p99)]),
    ...Object.entries(s2).map(([k, v]) => [`2. run \`true\` in a container`, k, ms(v.median), ms(v.mean), ms(v.p90), ms(v.p99)]),
    [`3. create, ${GATE_CLIENTS} clients x ${GATE_EACH}`, "wardend", ms(sGate.median), ms(sGate.mean), ms(sGate.p90), ms(sGate.p99)],
    [`3. create, ${GATE_CLIENTS} clients x ${GATE_EACH}`, "wardend, Garden API", ms(sGardenGate.median), ms(sGardenGate.mean), ms(sGardenGate.p90), ms(sGardenGate.p99)],
    ...Object.entries(s4).map(([k, v]) => [`4. 50 MB of stdout`, k, ms(v.median), ms(v.mean), ms(v.p90), ms(v.p99)]),
    ...Object.entries(samples.createAtDensity).map(([k, v]) => {
      const x = summarize(v);
      return [`5. create`, k, ms(x.median), ms(x.mean), ms(x.p90), ms(x.p99)];
    }),
  ];
  const m = results.machine as Record<string, string>;
  const md = [
    `Run ${m.date.slice(0, 16).replace("T", " ")} UTC on ${m.cpus}, ${m.memory}, kernel ${m.kernel}; ${m.crun.split("\n")[0]}, ${m.podman}, Node ${m.node}.`,
    "",
    markdownTable(["workload", "system", "median ms", "mean ms", "p90 ms", "p99 ms"], latencyRows),
    "",
    markdownTable(
      ["with " + DENSITY + " containers", "value"],
      [
        ["daemon RSS", `${density.daemonRssMiB.toFixed(0)} MiB`],
        ["host memory per container (kernel, supervisors, init)", `${(density.hostMemoryPerContainerKiB / 1024).toFixed(2)} MiB`],
        ["of which conmon + init (proportional set size)", `${(density.supervisorsPerContainerKiB / 1024).toFixed(2)} MiB`],
        ["restart, kill -9: all back and answering", `${ms(restarts["kill -9"])} ms`],
        ["restart, SIGTERM: all back and answering", `${ms(restarts.SIGTERM)} ms`],
      ],
    ),
    "",
    markdownTable(["target", "measured", "target", "met"], targets.map(([a, b, t, ok]) => [a, b, t, ok ? "yes" : "**no**"])),
    "",
    `wardend's create, median per step (ms): ${Object.entries(phases).map(([k, v]) => `${k} ${v}`).join(", ")}.`,
    "",
  ].join("\n");
  const panels: Panel[] = [
    { title: "1. create + run `echo hi` + destroy", series: Object.entries(w1).map(([label, s]) => ({ label, samples: s })) },
    { title: "2. run `true` in an existing container", series: Object.entries(w2).map(([label, s]) => ({ label, samples: s })) },
    { title: `3. create with ${GATE_CLIENTS} clients at once`, series: Object.entries(samples.concurrentCreate).map(([label, s]) => ({ label, samples: s })) },
    { title: "5. create with others alive", series: Object.entries(samples.createAtDensity).map(([label, s]) => ({ label, samples: s })) },
    { title: "4. 50 MB of stdout", series: Object.entries(w4).map(([label, s]) => ({ label, samples: s })) },
  ];
  await mkdir(RESULTS, { recursive: true });
  await writeFile(join(RESULTS, "latest.json"), `${JSON.stringify({ ...results, createPhasesMs: phases, samples }, null, 1)}\n`);
  await writeFile(join(RESULTS, "latest.md"), md);
  await writeFile(join(RESULTS, "latest.svg"), svgChart(panels, `wardend, crun and Podman: ${m.cpus}, kernel ${m.kernel}`));
  say(`\n${md}`);
  say(`written to bench/results/latest.{json,md,svg} in ${((now() - started) / 1000).toFixed(0)} s`);
} finally {
  c?.close();
  garden.close();
  await podman.tearDown().catch((err) => say(`podman teardown: ${String(err)}`));
  await ns.teardown().catch(() => {});
  await ns.unshare(netnsDir).catch(() => {});
  await daemon.stop();
  await rm(scratch, { recursive: true, force: true });
  for (const controller of ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd", "unified"]) {
    await run(["rmdir", `/sys/fs/cgroup/${controller}/warden-bench-raw`]).catch(() => {});
  }
}
