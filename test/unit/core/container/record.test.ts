import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Container } from "../../../../src/core/container/container.js";
import { fromRecord, toRecord } from "../../../../src/core/container/record.js";
import type { ContainerRecord } from "../../../../src/core/interfaces/state-store.js";

const network = { subnet: "10.254.0.0/30", hostIp: "10.254.0.1", containerIp: "10.254.0.2" };

function container(): Container {
  const c = new Container({
    id: "000000000v8", handle: "h", path: "/depot/000000000v8", uid: 10000, rootfs: "/rootfs",
    bindMounts: [{ srcPath: "/a", dstPath: "/b", mode: "rw" }], network, graceTime: 30,
    env: ["A=1"], properties: { p: "q" }, createdAt: 1234, idMap: { hostId: 300000, size: 65536 },
  });
  c.state = "stopped";
  c.addEvent("out-of-memory");
  c.netIns.push({ hostPort: 61001, containerPort: 80, fromPool: true });
  c.netOuts.push({ protocol: "tcp", ports: { from: 1, to: 2 }, log: true });
  c.memoryLimit = 2n ** 62n;
  c.cpuShares = 100n;
  c.diskLimits = { byteSoft: 0n, byteHard: 4096n, inodeSoft: 0n, inodeHard: 0n };
  c.bandwidth = { rate: 1, burst: 2 };
  return c;
}

describe("container records", () => {
  it("keep what a restarted daemon needs, through JSON, big numbers as strings", () => {
    const record = JSON.parse(JSON.stringify(toRecord(container()))) as ContainerRecord;
    assert.equal(record.memoryLimit, String(2n ** 62n));
    const back = fromRecord(record, "/depot/000000000v8");
    assert.deepEqual(back.idMap, { hostId: 300000, size: 65536 });
    assert.deepEqual(toRecord(back), toRecord(container()));
    assert.deepEqual(back.info(), container().info());
  });

  it("read the event texts older records held as events", () => {
    const record = { ...toRecord(container()), events: ["out of memory", "command exceeded maximum output", "something else"] };
    assert.deepEqual(fromRecord(record, "/x").events, ["out-of-memory", "process-output-exceeded"]);
  });

  it("read records written before properties, env and creation times", () => {
    const { properties: _p, env: _e, createdAt: _c, ...old } = toRecord(container());
    const back = fromRecord(old as ContainerRecord, "/x");
    assert.deepEqual([back.properties, back.env], [{}, []]);
    assert.ok(back.createdAt > 0);
  });

  it("refuse what is not a whole record", () => {
    assert.throws(() => fromRecord({ version: 2 } as never, "/x"), /not a container record/);
    assert.throws(() => fromRecord({ ...toRecord(container()), network: { subnet: "" } } as never, "/x"), /without a network/);
  });
});
