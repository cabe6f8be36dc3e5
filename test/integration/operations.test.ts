// What an operator watches: Warden's health check, the pidfile, and the
// Prometheus metrics beside them.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { eventually, freePort, startDaemon } from "./harness.js";


function healthCheck(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: "127.0.0.1", port });
    let text = "";
    s.on("connect", () => s.write("GET / HTTP/1.0\r\n\r\n"));
    s.on("data", (b) => (text += b.toString()));
    s.on("close", () => resolve(text));
    s.on("error", reject);
  });
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line, `${series} is exported`);
  return Number(line.split(" ")[1]);
}

describe("operations", () => {
  it("answers the health check, writes the pidfile, and exports containers, jobs, latencies and pools", async () => {
    const [health, metrics] = [await freePort(), await freePort()];
    const pidfile = join(tmpdir(), `wardentest-${process.pid}.pid`);
    const daemon = await startDaemon({
      config: { health_check_server: { port: health }, metrics: { port: metrics }, server: { pidfile } },
    });
    try {
      assert.equal(await healthCheck(health), "HTTP/1.1 200 OK\r\n");
      assert.equal(Number((await readFile(pidfile, "utf8")).trim()), daemon.pid);
      const c = await daemon.client();
      const a = await c.create();
      const b = await c.create();
      await c.spawn(a, "sleep 30");
      await c.call("Stop", { handle: b, kill: true });
      const gone = await c.create();
      await c.destroy(gone);
      await assert.rejects(c.create({ rootfs: "/no/such/rootfs" }));
      // The destroyed container's uid and network come back once its clean-up, after Destroy's answer, is done.
      const text = await eventually(async () => {
        const t = await scrape(metrics);
        return value(t, 'warden_pool_in_use{pool="uids"}') === 2 ? t : undefined;
      }, "the destroyed container's uid to come back");
      assert.equal(value(text, 'warden_containers{state="active"}'), 1);
      assert.equal(value(text, 'warden_containers{state="stopped"}'), 1);
      assert.equal(value(text, 'warden_jobs{state="running"}'), 1);
      assert.equal(value(text, "warden_container_create_seconds_count"), 3);
      assert.equal(value(text, "warden_container_destroy_seconds_count"), 1);
      assert.ok(value(text, "warden_container_create_seconds_sum") > 0);
      assert.equal(value(text, 'warden_pool_in_use{pool="uids"}'), 2);
      assert.equal(value(text, 'warden_pool_size{pool="networks"}'), 256, "10.254.0.0/22 in /30s");
      assert.equal(value(text, 'warden_pool_in_use{pool="networks"}'), 2);
      assert.equal(value(text, "warden_oom_events_total"), 0);
      assert.ok(value(text, "wardend_process_resident_memory_bytes") > 0);
      assert.equal((await fetch(`http://127.0.0.1:${metrics}/other`)).status, 404);
    } finally {
      await daemon.stop();
    }
    assert.ok(!existsSync(pidfile), "the pidfile goes with the daemon");
  });
});
