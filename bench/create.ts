// Where a create's time and CPU go, step by step, alone and five at a time:
//   1. 20 creates one after another: wall time, the machine's CPU (all
//      processes, /proc/stat) and the daemon's own (/proc/PID/stat) per create,
//      and the median of each step wardend logs (network, filesystem, runtime)
//   2. what destroying them costs the machine, the clean-up after the answer included
//   3. Garden's gate through Warden's protocol: 5 clients x 40 creates at once, with the steps' medians
// A regression shows in the step it happens in.
//
//   npm run build && node dist/bench/create.js          (as root)
import { readFileSync } from "node:fs";
import { startDaemon, type TestDaemon } from "../test/integration/harness.js";
import { createAtOnce } from "./lib/create-at-once.js";
import { summarize } from "./lib/report.js";

const SEQUENTIAL = 20;
const CLIENTS = 5;
const EACH = 40;
const say = (text: string) => process.stdout.write(`${text}\n`);

function machineBusyMs(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system irq softirq steal, in clock ticks (10 ms)
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * 10;
}

function processCpuMs(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Median of each step of the creates logged after `mark`. */
function steps(daemon: TestDaemon, mark: number): string {
  const phases: Record<string, number[]> = {};
  for (const line of daemon.logs.slice(mark).split("\n")) {
    if (!line.includes('"container created"')) continue;
    const entry = JSON.parse(line) as { ms: number; phases: Record<string, number> };
    for (const [k, v] of Object.entries({ total: entry.ms, ...entry.phases })) (phases[k] ??= []).push(v);
  }
  return Object.entries(phases).map(([k, v]) => `${k} ${summarize(v).median}`).join(", ");
}

const pooled = () => new Promise((r) => setTimeout(r, 5500)); // networks come back 5 s after their container
const daemon = await startDaemon({ config: { logging: { level: "info" } } });
try {
  const c = await daemon.client();
  for (let i = 0; i < 3; i++) await c.destroy(await c.create());
  await pooled();

  let mark = daemon.logs.length;
  const handles: string[] = [];
  const [busy0, own0, t0] = [machineBusyMs(), processCpuMs(daemon.pid), performance.now()];
  for (let i = 0; i < SEQUENTIAL; i++) handles.push(await c.create());
  const [busy1, own1, t1] = [machineBusyMs(), processCpuMs(daemon.pid), performance.now()];
  say(`1. ${SEQUENTIAL} creates one after another, per create: wall ${((t1 - t0) / SEQUENTIAL).toFixed(1)} ms, ` +
    `machine CPU ${((busy1 - busy0) / SEQUENTIAL).toFixed(1)} ms, daemon CPU ${((own1 - own0) / SEQUENTIAL).toFixed(1)} ms`);
  say(`   steps (median ms): ${steps(daemon, mark)}`);

  const busy2 = machineBusyMs();
  const answered: number[] = [];
  for (const h of handles) {
    const t = performance.now();
    await c.destroy(h);
    answered.push(performance.now() - t);
  }
  await new Promise((r) => setTimeout(r, 2000)); // the clean-ups after the answers
  say(`2. destroy: answered in ${summarize(answered).median.toFixed(1)} ms (median); machine CPU per destroy, clean-up included: ` +
    `${((machineBusyMs() - busy2) / SEQUENTIAL).toFixed(1)} ms (2 s of idle machine included)`);
  await pooled();

  mark = daemon.logs.length;
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => daemon.client()));
  const s = summarize(await createAtOnce(clients, EACH));
  say(`3. ${CLIENTS} clients x ${EACH} creates at once: mean ${s.mean.toFixed(0)} ms, median ${s.median.toFixed(0)}, p99 ${s.p99.toFixed(0)}`);
  say(`   steps under that load (median ms): ${steps(daemon, mark)}`);
} finally {
  await daemon.stop();
}
