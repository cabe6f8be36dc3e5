// Grace time on a real daemon: a container no connection references is
// destroyed after its grace time; a new connection cancels the timer.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { startDaemon, type TestDaemon } from "./harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("grace time", () => {
  let daemon: TestDaemon;

  before(async () => {
    daemon = await startDaemon({ config: { server: { container_grace_time: 1 } } });
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
    await sleep(1600);
    const later = await daemon.client();
    assert.ok(!(await later.call("List")).handles.includes(handle), "gone after the grace time");
    assert.equal(existsSync(path), false, "its depot directory is removed");
    later.close();
  });

  it("uses the container's own grace time over the server's", async () => {
    const c = await daemon.client();
    const handle = await c.create({ grace_time: 0 });
    c.close();
    await sleep(400);
    const later = await daemon.client();
    assert.ok(!(await later.call("List")).handles.includes(handle));
    later.close();
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
    await sleep(1600);
    const later = await daemon.client();
    assert.ok(!(await later.call("List")).handles.includes(handle), "destroyed once it closed");
    later.close();
  });
});
