// Grace time on a real daemon: a container no connection references is
// destroyed after its grace time; a new connection cancels the timer.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { WardenClient } from "../../src/client/client.js";
import { eventually, startDaemon, type TestDaemon } from "./harness.js";

// What is tested here is time: that nothing happens before the grace time
// has passed. Those waits are the point; every wait for something to happen
// polls for it instead.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Asked on a connection opened before any container was: in Warden a new
// connection holds every container there is (and would reset the timers).
async function listed(observer: WardenClient, handle: string): Promise<boolean> {
  return (await observer.call("List")).handles.includes(handle);
}

describe("grace time", () => {
  let daemon: TestDaemon;
  let observer: WardenClient;

  before(async () => {
    daemon = await startDaemon({ config: { server: { container_grace_time: 1 } } });
    observer = await daemon.client();
  });

  after(() => daemon.stop());

  it("destroys an unreferenced container after the server's grace time", async () => {
    const c = await daemon.client();
    const handle = await c.create();
    const path = (await c.call("Info", { handle })).container_path;
    c.close();
    await sleep(500);
    const watcher = await daemon.client();
    assert.ok((await watcher.call("List")).handles.includes(handle), "still there within the grace time");
    watcher.close();
    await eventually(async () => !(await listed(observer, handle)), "the container to go after its grace time");
    await eventually(() => !existsSync(path), "its depot directory to be removed");
  });

  it("uses the container's own grace time over the server's", async () => {
    const c = await daemon.client();
    const handle = await c.create({ grace_time: 0 });
    c.close();
    await eventually(async () => !(await listed(observer, handle)), "the container with grace time 0 to go at once", 800);
  });

  it("cancels the timer while a new connection is open", async () => {
    const c = await daemon.client();
    const handle = await c.create();
    c.close();
    await sleep(300);
    const holder = await daemon.client();
    await sleep(1500);
    assert.ok((await holder.call("List")).handles.includes(handle), "kept while a connection is open");
    holder.close();
    await eventually(async () => !(await listed(observer, handle)), "the container to be destroyed once the holder closed");
  });
});
