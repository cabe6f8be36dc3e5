// Containers made from images: the store is asked for the image, its layers
// become the root's base, its configuration the processes' defaults, and
// its hold goes with the container.
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { errors } from "../../../../src/core/errors.js";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { FakeMachine } from "../../../fakes/service.js";

describe("containers from images", () => {
  let m: FakeMachine;
  let s: ContainerService;
  beforeEach(() => {
    m = new FakeMachine();
    s = m.service();
  });

  it("gives a container a user namespace of its own: its map to the network, root filesystem, runtime and peas, its images' layers as kept with the host's ids, and in its record", async () => {
    m.images.add("docker.io/library/busybox:1.37.0");
    s = m.service({ sharedIdMap: { hostId: 1_000_000_000, size: 65536 } });
    const idMap = { hostId: 300_000, size: 65536 };
    const h = await s.create({ rootfs: "docker:///busybox#1.37.0", idMap });
    const id = m.id();
    assert.deepEqual(m.network.createdWith.get(id), { privileged: false, idMap });
    assert.deepEqual(m.filesystem.prepared.get(id)?.idMap, idMap);
    assert.equal(m.filesystem.prepared.get(id)?.privileged, false);
    assert.deepEqual(m.runtime.container(id).launch.idMap, idMap);
    assert.deepEqual(m.images.acquired.map((a) => a.privileged), [true], "unshifted layers: the map is applied by mounts");
    await s.run(h, { path: "/bin/sh", image: "docker:///busybox#1.37.0" });
    assert.deepEqual([...m.filesystem.peaIdMaps.values()], [idMap]);
    assert.equal(m.images.acquired.at(-1)!.privileged, true);
    assert.deepEqual(m.state.records.get(id)?.idMap, idMap);
  });

  it("refuses a map of a container's own on the daemon's ids, too small for the container user, on host root, for a privileged container or on the host's network", async () => {
    s = m.service({ sharedIdMap: { hostId: 1_000_000_000, size: 65536 } });
    const bad: Array<[object, RegExp]> = [
      [{ idMap: { hostId: 1_000_065_535, size: 65536 } }, /overlaps the daemon's host ids 1000000000-1000065535/],
      [{ idMap: { hostId: 300_000, size: 1000 } }, /must hold container ids up to/],
      [{ idMap: { hostId: 0, size: 65536 } }, /host ids from 1/],
      [{ idMap: { hostId: 2 ** 32 - 100, size: 65536 } }, /host ids from 1 to 4294967294/],
      [{ idMap: { hostId: 300_000, size: 65536 }, privileged: true }, /privileged container has no user namespace/],
      [{ idMap: { hostId: 300_000, size: 65536 }, hostNetwork: true }, /cannot be on the host's network/],
    ];
    for (const [spec, message] of bad) await assert.rejects(s.create(spec), { code: "INVALID_REQUEST", message }, JSON.stringify(spec));
    assert.deepEqual(s.list(), []);
    assert.equal(m.network.created.size, 0);
  });

  it("stands the container on the image's layers, holds the image for it, and says which image it is", async () => {
    const image = m.images.add("docker.io/library/busybox:1.37.0");
    const h = await s.create({ rootfs: "docker:///busybox#1.37.0", imageCredentials: { username: "u", password: "p" } });
    const id = m.id();
    assert.deepEqual(m.filesystem.prepared.get(id)!.base, { kind: "layers", layers: image.layers });
    assert.deepEqual(m.images.acquired, [{ name: image.name, holder: id, credentials: { username: "u", password: "p" } }]);
    assert.deepEqual(s.info(h).image, { name: image.name, id: image.id });
    assert.equal(s.info(h).rootfs, "docker:///busybox#1.37.0", "rootfs is what the client named");
    assert.equal(m.state.records.get(id)!.image!.name, image.name);
    await s.destroy(h);
    await s.cleanUps();
    assert.equal(m.images.holds.size, 0, "destroy lets go of the image");
  });

  it("runs processes with the image's Env under the container's and the process's, in its WorkingDir, as its User by default", async () => {
    m.images.add("registry.local:5000/app:v1", { env: ["PATH=/app/bin", "MODE=image", "IMAGE_ONLY=1"], workingDir: "/srv", user: "vcap" });
    const h = await s.create({ rootfs: "registry.local:5000/app:v1", env: ["MODE=container"] });
    await s.run(h, { path: "/bin/true", env: ["EXTRA=1"] });
    const launch = m.runtime.started[0].launch;
    assert.deepEqual(
      launch.env.filter((e) => !e.startsWith("HOME=") && !e.startsWith("USER=")),
      ["PATH=/app/bin", "MODE=container", "IMAGE_ONLY=1", "EXTRA=1"],
    );
    assert.equal(launch.dir, "/srv");
    assert.equal(launch.user.name, "vcap");
    await s.run(h, { path: "/bin/true", user: "root", dir: "/tmp" });
    const second = m.runtime.started[1].launch;
    assert.deepEqual([second.user.name, second.dir], ["root", "/tmp"], "what the process asks for wins");
  });

  it("looks root up once in an image's account files (an image may put root in groups of its own); a directory's root is known", async () => {
    m.images.add("registry.local:5000/app:v1");
    const h = await s.create({ rootfs: "registry.local:5000/app:v1" });
    m.runtime.container(m.id()).group += "wheel:x:10:root\n";
    await s.run(h, { path: "/bin/true", user: "root" });
    assert.deepEqual(m.runtime.started[0].launch.user.groups, [0, 10]);
    assert.equal(m.runtime.resolved.length, 1, "looked up");
    await s.run(h, { path: "/bin/true", user: "0" });
    assert.deepEqual(m.runtime.started[1].launch.user.groups, [0, 10]);
    assert.equal(m.runtime.resolved.length, 1, "then known: looked up once per container");
    const plain = await s.create({});
    await s.run(plain, { path: "/bin/true", user: "root" });
    assert.equal(m.runtime.resolved.length, 1, "not looked up");
  });

  it("keeps the image's configuration across a restart", async () => {
    m.images.add("docker.io/team/app:v1", { env: ["FROM_IMAGE=1"], workingDir: "/w" });
    const h = await s.create({ rootfs: "team/app:v1" });
    const restarted = m.service();
    await restarted.recover();
    assert.deepEqual(m.images.reconciled, [m.id()]);
    await restarted.run(h, { path: "/bin/true" });
    const launch = m.runtime.started.at(-1)!.launch;
    assert.ok(launch.env.includes("FROM_IMAGE=1"));
    assert.equal(launch.dir, "/w");
    assert.deepEqual(restarted.info(h).image?.name, "docker.io/team/app:v1");
  });

  it("undoes a create whose image cannot be had, letting go of the hold, and reports the store's error", async () => {
    m.images.failAcquire = errors.imageUnauthorized("docker.io/library/private:latest", "docker.io");
    await assert.rejects(s.create({ rootfs: "private" }), { code: "IMAGE_UNAUTHORIZED" });
    await assert.rejects(s.create({ rootfs: "docker:///missing" }), { code: "IMAGE_UNAUTHORIZED" });
    m.images.failAcquire = undefined;
    await assert.rejects(s.create({ rootfs: "docker:///missing" }), { code: "IMAGE_NOT_FOUND" });
    assert.deepEqual(s.list(), []);
    assert.deepEqual([...m.depot.dirs], []);
    assert.equal(m.network.created.size, 0, "the network made beside the pull is gone");
    assert.equal(m.images.holds.size, 0);
    // A failure after the image was held gives the hold back too.
    m.images.add("docker.io/library/busybox:latest");
    m.runtime.failCreate = new Error("runtime said no");
    await assert.rejects(s.create({ rootfs: "busybox" }), /runtime said no/);
    assert.equal(m.images.acquired.at(-1)!.name, "docker.io/library/busybox:latest");
    assert.equal(m.images.holds.size, 0);
  });

  it("refuses a malformed reference, or an image when the daemon keeps none, before making anything", async () => {
    await assert.rejects(s.create({ rootfs: "Not A Name" }), { code: "INVALID_REQUEST" });
    await assert.rejects(s.create({ rootfs: "ftp://host/x" }), { code: "INVALID_REQUEST", message: /scheme other than docker/ });
    const plain = new FakeMachine().service({}, { images: false });
    await assert.rejects(plain.create({ rootfs: "busybox" }), { code: "INVALID_REQUEST", message: /keeps no images/ });
    assert.equal(m.images.acquired.length, 0);
  });
});

describe("disk limits of the total scope", () => {
  it("leave the base out of what the writable layer may take", async () => {
    const m = new FakeMachine();
    const s = m.service();
    await s.create({ handle: "t", limits: { disk: { byteSoft: 0n, byteHard: 20_000n, inodeSoft: 0n, inodeHard: 0n }, diskScope: "total" } });
    await s.create({ handle: "e", limits: { disk: { byteSoft: 0n, byteHard: 20_000n, inodeSoft: 0n, inodeHard: 0n } } });
    // The fake base takes 4096 bytes.
    assert.equal((await s.limits("t")).disk!.byteHard, 15_904n);
    assert.equal((await s.limits("e")).disk!.byteHard, 20_000n);
  });
});
