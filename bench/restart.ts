// Restart time with many containers: how long from a daemon's start until
// it answers with every container recovered, after kill -9 and after SIGTERM.
//
//   npm run build && node dist/bench/restart.js [containers]      (as root; default 250)
import { startDaemon } from "../test/integration/harness.js";

const N = Number(process.argv[2] ?? 250);

const daemon = await startDaemon({ config: { logging: { level: "warn" } } });
try {
  let c = await daemon.client();
  const madeAt = performance.now();
  for (let i = 0; i < N; i++) {
    const h = await c.create({ grace_time: 3600 });
    // A job per container, running through the restart, and a NetOut rule to restore.
    await c.spawn(h, "sleep 3600");
    await c.call("NetOut", { handle: h, network: "10.254.3.0/24", port: 80 });
  }
  console.log(`made ${N} containers in ${((performance.now() - madeAt) / 1000).toFixed(1)} s`);
  for (const how of ["kill -9", "SIGTERM", "kill -9"] as const) {
    const stopAt = performance.now();
    if (how === "kill -9") await daemon.kill();
    else await daemon.terminate();
    const stopped = performance.now() - stopAt;
    const startAt = performance.now();
    // restart() returns once the daemon answers a Ping: after recovery, which runs before it listens.
    await daemon.restart();
    const started = performance.now() - startAt;
    c = await daemon.client();
    const listed = (await c.call("List")).handles.length;
    if (listed !== N) throw new Error(`${listed} of ${N} containers recovered`);
    console.log(`after ${how.padEnd(7)}: stopped in ${stopped.toFixed(0)} ms, answering with ${N} containers back in ${started.toFixed(0)} ms`);
  }
} finally {
  await daemon.stop();
}
