import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ContainerRecord } from "../../../src/core/interfaces/state-store.js";
import { DirectoryDepot } from "../../../src/linux/depot.js";
import { FileStateStore } from "../../../src/linux/state-store.js";

const ID = "1j1cdsetukg";
const record = (handle: string): ContainerRecord => ({
  version: 1, id: ID, handle, uid: 10000, rootfs: "/r", bindMounts: [], graceTime: null,
  network: { subnet: "10.254.0.0/30", hostIp: "10.254.0.1", containerIp: "10.254.0.2" },
  state: "active", events: [], netIns: [], netOuts: [],
});

describe("file state store", () => {
  let dir: string;
  let store: FileStateStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wstate-"));
    const depot = new DirectoryDepot(dir);
    await mkdir(join(dir, ID));
    store = new FileStateStore(depot, dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("writes a record to its container's directory, the last of writes at once winning, and leaves no temporary file", async () => {
    await Promise.all(["a", "b", "c"].map((h) => store.save(record(h))));
    assert.equal((await store.load(ID))!.handle, "c");
    assert.deepEqual(await readdir(join(dir, ID)), ["state.json"]);
  });

  it("answers undefined for a container without a record, and fails on one that is not JSON", async () => {
    await mkdir(join(dir, "1j1cdsetukh"));
    assert.equal(await store.load("1j1cdsetukh"), undefined);
    await writeFile(join(dir, "1j1cdsetukh", "state.json"), "{torn");
    await assert.rejects(store.load("1j1cdsetukh"));
  });

  it("keeps counters beside the containers, and forgets them all, older names included", async () => {
    assert.equal(await store.loadCounter("process-seq"), 0);
    await store.saveCounter("process-seq", 1001);
    assert.equal(await store.loadCounter("process-seq"), 1001);
    await writeFile(join(dir, ".job-ids"), "5\n");
    await store.clearCounters();
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith(".")), []);
    assert.equal(await readFile(join(dir, ID, "state.json"), "utf8").then((t) => JSON.parse(t).handle), "c");
  });
});
