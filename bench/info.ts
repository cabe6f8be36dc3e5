// Info on many live containers: each carries memory, cpu, disk and
// bandwidth statistics. Measured with 1 container and with N, one at a time
// and N at once (one connection each).
//
//   npm run build && node dist/bench/info.js [containers]      (as root; default 100)
import { toLong } from "../src/protocol/messages.js";
import { startDaemon } from "../test/integration/harness.js";

const N = Number(process.argv[2] ?? 100);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];

const daemon = await startDaemon({ config: { logging: { level: "warn" } } });
try {
  const c = await daemon.client();
  const handles: string[] = [];
  for (let i = 0; i < N; i++) {
    const h = await c.create();
    await c.call("LimitMemory", { handle: h, limit_in_bytes: toLong(64 * 1024 * 1024) });
    await c.call("LimitDisk", { handle: h, byte: toLong(100 * 1024 * 1024) });
    handles.push(h);
  }
  // A tenth with a bandwidth limit: reading it back costs a `tc`.
  for (const h of handles.slice(0, Math.ceil(N / 10))) {
    await c.call("LimitBandwidth", { handle: h, rate: toLong(1_000_000), burst: toLong(65536) });
  }
  const one: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    await c.call("Info", { handle: handles[N - 1] });
    one.push(performance.now() - t);
  }
  const sweeps: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (const h of handles) await c.call("Info", { handle: h });
    sweeps.push(performance.now() - t);
  }
  const clients = await Promise.all(handles.map(() => daemon.client()));
  const parallel: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    await Promise.all(handles.map((h, i) => clients[i].call("Info", { handle: h })));
    parallel.push(performance.now() - t);
  }
  console.log(`\nInfo with ${N} live containers (memory and disk limits; ${Math.ceil(N / 10)} with bandwidth limits), ms`);
  console.log(`  one Info, without bandwidth limit          median ${median(one).toFixed(2)}  p90 ${p90(one).toFixed(2)}`);
  console.log(`  Info of all ${N}, one after another        median ${median(sweeps).toFixed(1)}  (${(median(sweeps) / N).toFixed(2)} per container)`);
  console.log(`  Info of all ${N} at once, ${N} connections  median ${median(parallel).toFixed(1)}`);
} finally {
  await daemon.stop();
}
