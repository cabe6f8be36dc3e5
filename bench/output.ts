// A job's output, step by step (issue 15): 50 MB from `head | tr` in a
// container, discarded by the shim, written by the job to a file in the
// container, left to the shim's pipe and file with nobody reading (the job's
// own time, from $EPOCHREALTIME inside it, and the daemon's CPU meanwhile),
// and through Warden's Stream. Rounds interleave; medians.
//
//   npm run build && node dist/bench/output.js [ROUNDS]     (as root; ROUNDS defaults to 5)
import { readFileSync } from "node:fs";
import { startDaemon } from "../test/integration/harness.js";
import { markdownTable, ms, summarize } from "./lib/report.js";

const ROUNDS = Number(process.argv[2] ?? 5);
const BYTES = 50 * 1024 * 1024;
const GENERATE = `head -c ${BYTES} /dev/zero | tr '\\0' a`;
const timedInside = (body: string) => `s=\${EPOCHREALTIME/./}; ${body}; e=\${EPOCHREALTIME/./}; echo inner=$(( (e-s)/1000 )) >&2`;

const daemon = await startDaemon({ config: { logging: { level: "warn" }, server: { job_output_limit: 128 * 1024 * 1024 } } });
/** The daemon's CPU time so far, ms. */
const daemonCpu = () => {
  const fields = readFileSync(`/proc/${daemon.pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const samples: Record<string, number[]> = {
  "discarded (total)": [],
  "to a file in the container (total)": [],
  "to the shim, nobody reading (the job's own time)": [],
  "daemon CPU while nobody reads": [],
  "through Stream (total)": [],
};
try {
  const c = await daemon.client();
  const h = await c.create();
  for (let i = 0; i < ROUNDS + 1; i++) {
    const round: Record<string, number> = {};
    let t = performance.now();
    await c.run(h, GENERATE, { discard_output: true });
    round["discarded (total)"] = performance.now() - t;
    t = performance.now();
    await c.run(h, `${GENERATE} > /tmp/out; rm /tmp/out`);
    round["to a file in the container (total)"] = performance.now() - t;
    const cpu = daemonCpu();
    const job = await c.spawn(h, timedInside(GENERATE));
    // Until it ends (Info lists running jobs), then its CPU: what the output's change events cost.
    while ((await c.call("Info", { handle: h })).job_ids.map(Number).includes(job)) await new Promise((r) => setTimeout(r, 50));
    round["daemon CPU while nobody reads"] = daemonCpu() - cpu;
    const linked = await c.link(h, job);
    round["to the shim, nobody reading (the job's own time)"] = Number(/inner=(\d+)/.exec(linked.stderr)?.[1] ?? NaN);
    t = performance.now();
    const streamed = await c.spawn(h, GENERATE);
    let bytes = 0;
    for await (const chunk of c.stream(h, streamed)) bytes += chunk.data?.length ?? 0;
    if (bytes !== BYTES) throw new Error(`streamed ${bytes} bytes`);
    round["through Stream (total)"] = performance.now() - t;
    if (i > 0) for (const [k, v] of Object.entries(round)) samples[k].push(v);
  }
  await c.destroy(h);
  const rows = Object.entries(samples).map(([k, v]) => [k, ms(summarize(v).median), ms(summarize(v).min), ms(summarize(v).max)]);
  process.stdout.write(`${markdownTable(["50 MB of output", "median ms", "min", "max"], rows)}\n`);
  const ratio = summarize(samples["through Stream (total)"]).median / summarize(samples["discarded (total)"]).median;
  process.stdout.write(`\nStream against the job alone: ${ratio.toFixed(2)}x (issue 15's target: at most 1.3x)\n`);
} finally {
  await daemon.stop();
}
