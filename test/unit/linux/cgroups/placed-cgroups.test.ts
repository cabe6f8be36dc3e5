import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ContainerCgroups } from "../../../../src/linux/cgroups/cgroups.js";
import { PlacedCgroups } from "../../../../src/linux/cgroups/placed-cgroups.js";

/** Records the cgroup names it is asked about. */
function recording(): { cgroups: ContainerCgroups; asked: string[] } {
  const asked: string[] = [];
  const cgroups = new Proxy({} as ContainerCgroups, {
    get: (_t, method) => async (name: string) => {
      asked.push(`${String(method)} ${name}`);
      return method === "procs" ? [] : undefined;
    },
  });
  return { cgroups, asked };
}

describe("cgroups placed under a parent a client named", () => {
  it("sends calls for a placed container to its cgroup under that parent, named relative to the daemon's, its peas' under it too", async () => {
    const { cgroups, asked } = recording();
    const placed = new PlacedCgroups(cgroups, "warden", () => undefined);
    assert.equal(placed.place("1j1cdsetukg", "/kubepods/pod1"), "/kubepods/pod1/1j1cdsetukg");
    await placed.freeze("1j1cdsetukg");
    await placed.setMemoryLimit("1j1cdsetukg", 1n);
    await placed.procs("1j1cdsetukg/p1");
    await placed.procs("1j1cdsetukh");
    await placed.oomKills("1j1cdsetukg-p2");
    assert.deepEqual(asked, [
      "freeze ../kubepods/pod1/1j1cdsetukg",
      "setMemoryLimit ../kubepods/pod1/1j1cdsetukg",
      "procs ../kubepods/pod1/1j1cdsetukg/p1",
      "procs 1j1cdsetukh",
      "oomKills 1j1cdsetukg-p2",
    ]);
    placed.forget("1j1cdsetukg");
    await placed.procs("1j1cdsetukg");
    assert.equal(asked.at(-1), "procs 1j1cdsetukg", "a forgotten one is where its id says");
  });

  it("places a pea's own cgroup by its name, again from the path its bundle names, and not one that is where its name says", async () => {
    const { cgroups, asked } = recording();
    const placed = new PlacedCgroups(cgroups, "warden", () => undefined);
    assert.equal(placed.place("1j1cdsetukg-p1", "/kubepods/pod1"), "/kubepods/pod1/1j1cdsetukg-p1");
    placed.placeAt("/kubepods/pod2/1j1cdsetukg-p2");
    placed.placeAt("/warden/1j1cdsetukg-p3");
    for (const name of ["1j1cdsetukg-p1", "1j1cdsetukg-p2", "1j1cdsetukg-p3"]) await placed.setCpuShares(name, 2n);
    assert.deepEqual(asked, [
      "setCpuShares ../kubepods/pod1/1j1cdsetukg-p1",
      "setCpuShares ../kubepods/pod2/1j1cdsetukg-p2",
      "setCpuShares 1j1cdsetukg-p3",
    ]);
  });

  it("finds a container's place in its bundle once, after a restart", async () => {
    const { cgroups, asked } = recording();
    const looked: string[] = [];
    const placed = new PlacedCgroups(cgroups, "warden", (id) => {
      looked.push(id);
      return id === "1j1cdsetukg" ? "/kubepods/pod1/1j1cdsetukg" : `/warden/${id}`;
    });
    await placed.procs("1j1cdsetukg");
    await placed.thaw("1j1cdsetukg");
    await placed.procs("1j1cdsetukh");
    assert.deepEqual(asked, ["procs ../kubepods/pod1/1j1cdsetukg", "thaw ../kubepods/pod1/1j1cdsetukg", "procs 1j1cdsetukh"]);
    assert.deepEqual(looked, ["1j1cdsetukg", "1j1cdsetukh"]);
  });
});
