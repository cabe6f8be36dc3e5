import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { FakeMachine } from "../../../fakes/service.js";

describe("who processes run as", () => {
  let m: FakeMachine;
  let s: ContainerService;
  let h: string;
  beforeEach(async () => {
    m = new FakeMachine();
    s = m.service();
    h = await s.create({});
  });

  it("knows root and the container user (by name or uid) without asking the runtime", async () => {
    for (const user of ["root", "0", "0:0", "vcap", "10000", "10000:10000"]) await s.run(h, { path: "/x", user });
    assert.deepEqual(m.runtime.resolved, []);
    assert.deepEqual(m.runtime.started.map((p) => p.launch.user.uid), [0, 0, 0, 10000, 10000, 10000]);
  });

  it("asks the runtime for anyone else, and for a known user's directory other than their home", async () => {
    await s.run(h, { path: "/x", user: "10000:0" });
    await s.run(h, { path: "/x", user: "root", dir: "/srv" });
    assert.deepEqual(m.runtime.resolved, [
      { id: m.id(), user: "10000:0", workDir: {} },
      { id: m.id(), user: "root", workDir: { path: "/srv" } },
    ]);
  });
});
