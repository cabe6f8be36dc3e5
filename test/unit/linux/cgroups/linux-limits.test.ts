import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ContainerCgroups } from "../../../../src/linux/cgroups/cgroups.js";
import { LinuxLimits } from "../../../../src/linux/cgroups/linux-limits.js";

describe("OOM notice", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "woom-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  it("tells of a kill when conmon writes its oom file, and not of kills before the watch began", async () => {
    let kills = 2;
    const cgroups = { oomKills: async () => kills } as unknown as ContainerCgroups;
    const limits = new LinuxLimits(cgroups, () => dir);
    let told = 0;
    const told1 = new Promise<void>((resolve) => {
      const stop = limits.watchOom("c1", () => {
        told++;
        stop();
        resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(told, 0, "the two kills before the watch are not news");
    kills = 3;
    await writeFile(join(dir, "oom"), "");
    await told1;
    assert.equal(told, 1);
  });

  it("sees a kill by the counter when no file comes", async () => {
    let kills = 0;
    const cgroups = { oomKills: async () => kills } as unknown as ContainerCgroups;
    const limits = new LinuxLimits(cgroups, () => join(dir, "missing"));
    // The watch's poll does not keep a process alive on its own (the daemon has its socket).
    const alive = setInterval(() => {}, 100);
    await new Promise<void>((resolve) => {
      const stop = limits.watchOom("c2", () => {
        stop();
        resolve();
      });
      setTimeout(() => (kills = 1), 20);
    });
    clearInterval(alive);
  });
});
