import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DirectoryDepot } from "../../../../src/linux/depot.js";
import { OverlayFilesystem } from "../../../../src/linux/fs/overlay.js";
import { RuntimeMountNamespace } from "../../../../src/linux/runtime/mount-namespace.js";
import { RecordingRunner } from "../../../fakes/commands.js";

const ID = "1j1cdsetukg";

describe("overlay root filesystems", () => {
  let dir: string;
  let base: string;
  let depot: DirectoryDepot;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "woverlay-"));
    base = join(dir, "base");
    await mkdir(join(base, "etc"), { recursive: true });
    await writeFile(join(base, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    await mkdir(join(dir, "depot"));
    depot = new DirectoryDepot(join(dir, "depot"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const fs = (commands: RecordingRunner) =>
    new OverlayFilesystem(depot, new RuntimeMountNamespace(join(dir, "run"), commands), (hostIp) => `nameserver ${hostIp}\n`, commands);

  it("writes the container's own files into its writable layer and mounts the overlay in the runtime's namespace", async () => {
    const commands = new RecordingRunner();
    await depot.create(ID);
    const root = await fs(commands).prepare({ id: ID, base: { kind: "directory", path: base }, bindMounts: [], uid: 10001, containerIp: "10.254.0.2", hostIp: "10.254.0.1" });
    const c = join(dir, "depot", ID);
    assert.equal(root, join(c, "rootfs"));
    assert.deepEqual(commands.lines(), [
      `nsenter --mount=${dir}/run/ns/mnt --wd=/ -- mount -t overlay overlay -o lowerdir=${base},upperdir=${c}/fs/upper,workdir=${c}/fs/work ${c}/rootfs`,
    ]);
    assert.equal(await readFile(join(c, "fs/upper/etc/resolv.conf"), "utf8"), "nameserver 10.254.0.1\n");
    assert.match(await readFile(join(c, "fs/upper/etc/passwd"), "utf8"), /^vcap:x:10001:10001:/m);
    assert.equal(await readFile(join(base, "etc/passwd"), "utf8"), "root:x:0:0:root:/root:/bin/sh\n", "the base is not touched");
    assert.equal((await stat(join(c, "fs/upper/home/vcap"))).uid, 10001);
  });

  it("stacks an image's layers top first, named relative to the store's directory so the option string stays short", async () => {
    const store = join(dir, "l");
    await mkdir(join(store, "aaaa/etc"), { recursive: true });
    await mkdir(join(store, "bbbb/etc"), { recursive: true });
    await writeFile(join(store, "aaaa/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:500:500::/app:/bin/sh\n");
    const commands = new RecordingRunner().on("getfattr", { code: 1 });
    const id = "1j1cdsetukh";
    await depot.create(id);
    await fs(commands).prepare({ id, base: { kind: "layers", layers: [join(store, "aaaa"), join(store, "bbbb")] }, bindMounts: [], uid: 10001, containerIp: "10.254.0.6", hostIp: "10.254.0.5" });
    const c = join(dir, "depot", id);
    assert.equal(
      commands.lines().at(-1),
      `nsenter --mount=${dir}/run/ns/mnt -- sh -c cd -- "$0" && exec "$@" ${store} mount -t overlay overlay -o lowerdir=bbbb:aaaa,upperdir=${c}/fs/upper,workdir=${c}/fs/work ${c}/rootfs`,
    );
    assert.match(await readFile(join(c, "fs/upper/etc/passwd"), "utf8"), /^app:x:500:500:/m, "accounts are read through the layers");
    const deep = Array.from({ length: 300 }, (_, i) => join(store, `layer${String(i).padStart(12, "0")}`));
    await depot.create("1j1cdsetuki");
    await assert.rejects(
      fs(commands).prepare({ id: "1j1cdsetuki", base: { kind: "layers", layers: deep }, bindMounts: [], uid: 10001, containerIp: "10.254.0.10", hostIp: "10.254.0.9" }),
      { code: "INVALID_REQUEST", message: /too many layers \(300\)/ },
    );
  });

  it("refuses a base named with overlay's separators, or missing, and a relative or missing bind mount source", async () => {
    const overlay = fs(new RecordingRunner());
    await assert.rejects(overlay.check({ base: { kind: "directory", path: "/a,upperdir=/etc" }, bindMounts: [] }), { code: "INVALID_REQUEST" });
    await assert.rejects(overlay.check({ base: { kind: "directory", path: join(dir, "nope") }, bindMounts: [] }), { code: "ROOTFS_NOT_FOUND" });
    await assert.rejects(overlay.check({ base: { kind: "directory", path: base }, bindMounts: [{ srcPath: "rel", dstPath: "/x", mode: "ro" }] }), { code: "INVALID_REQUEST" });
    await assert.rejects(overlay.check({ base: { kind: "directory", path: base }, bindMounts: [{ srcPath: join(dir, "gone"), dstPath: "/x", mode: "ro" }] }), {
      code: "BIND_MOUNT_SOURCE_MISSING",
    });
  });

  it("takes an unmount of what is not mounted as done, and unmounts roots of containers that are gone", async () => {
    const mountinfo = [
      `1 0 0:1 / ${dir}/depot/${ID}/rootfs rw - overlay overlay rw`,
      `2 0 0:1 / ${dir}/depot/00000000vvv/rootfs rw - overlay overlay rw`,
      `3 0 0:1 / ${dir}/depot/00000000vvv/elsewhere rw - overlay overlay rw`,
      `4 0 0:1 / ${dir}/depot/00000000vvu/idmapped/rootfs/0 rw - ext4 /dev/vda rw`,
      `5 0 0:1 / ${dir}/depot/00000000vvu/idmapped/rootfs/1 rw - ext4 /dev/vda rw`,
    ].join("\n");
    const commands = new RecordingRunner().on("cat /proc/self/mountinfo", { stdout: mountinfo }).fail(`umount ${dir}/depot/${ID}`, "umount: not mounted.");
    const overlay = fs(commands);
    await overlay.unmount(ID);
    assert.deepEqual(await overlay.removeOrphans(new Set([ID])), ["00000000vvv", "00000000vvu"], "a dead container's root, and idmapped layers left without one");
    assert.ok(commands.lines().some((l) => l.endsWith(`umount ${dir}/depot/00000000vvv/rootfs`)));
  });

  it("grafts a pea's volumes as the host has them now into the runtime's namespace, and cuts them from their peers before unmounting", async () => {
    const commands = new RecordingRunner();
    const graft = "/opt/warden-graft";
    const overlay = new OverlayFilesystem(depot, new RuntimeMountNamespace(join(dir, "run"), commands, async () => [], graft), (ip) => `nameserver ${ip}\n`, commands);
    const id = "1j1cdsetukj";
    await depot.create(id);
    const volume = join(dir, "volume");
    await mkdir(volume, { recursive: true });
    const root = await overlay.preparePea({
      containerId: id,
      peaId: "p1",
      base: { kind: "directory", path: base },
      privileged: true,
      bindMounts: [{ srcPath: volume, dstPath: "/data", mode: "ro", propagation: "bidirectional" }],
    });
    const staged = join(dir, "depot", id, "pea-volumes", "p1", "0");
    assert.deepEqual(root.bindMounts, [{ srcPath: staged, dstPath: "/data", mode: "ro", propagation: "bidirectional" }]);
    assert.ok(commands.lines().includes(`${graft} ${dir}/run/ns/mnt ${volume} ${staged}`));
    await overlay.removePea(id, "p1");
    const ungraft = commands.lines().find((l) => l.includes("make-rprivate")) ?? "";
    assert.ok(ungraft.startsWith(`nsenter --mount=${dir}/run/ns/mnt --wd=/ -- sh -c`), ungraft);
    assert.ok(ungraft.endsWith(`sh ${staged}`));
    assert.match(ungraft, /mount --make-rprivate "\$t" && umount -l "\$t"/, "private first: an unmount would otherwise reach the host's peers");
    await assert.rejects(stat(join(dir, "depot", id, "pea-volumes", "p1")), { code: "ENOENT" });
    // Recursively read-only: the copy is made so before it is attached.
    await overlay.preparePea({ containerId: id, peaId: "p2", base: { kind: "directory", path: base }, bindMounts: [{ srcPath: volume, dstPath: "/ro", mode: "ro", recursiveReadOnly: true }] });
    assert.ok(commands.lines().includes(`${graft} --rro ${dir}/run/ns/mnt ${volume} ${join(dir, "depot", id, "pea-volumes", "p2", "0")}`));
    await overlay.removePea(id, "p2");
  });

  it("shows a container with a map of its own its layers through idmapped copies, owns its upper layer by the map, and takes the copies away after the overlay", async () => {
    const commands = new RecordingRunner().on("getfattr", { code: 1 });
    const graft = "/opt/warden-graft";
    const overlay = new OverlayFilesystem(depot, new RuntimeMountNamespace(join(dir, "run"), commands, async () => [], graft), (ip) => `nameserver ${ip}\n`, commands);
    const store = join(dir, "m");
    for (const l of ["one", "two"]) await mkdir(join(store, l, "etc"), { recursive: true });
    await writeFile(join(store, "one/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    const id = "1j1cdsetukk";
    await depot.create(id);
    const volume = join(dir, "mapped-volume");
    await mkdir(volume, { recursive: true });
    const idMap = { hostId: 300000, size: 65536 };
    const c = join(dir, "depot", id);
    const mapped = join(c, "idmapped", "rootfs");
    await overlay.prepare({ id, base: { kind: "layers", layers: [join(store, "one"), join(store, "two")] }, bindMounts: [], uid: 10001, containerIp: "10.254.0.14", hostIp: "10.254.0.13", idMap });
    assert.deepEqual(commands.lines().slice(-2), [
      `${graft} --idmap 300000:65536 ${dir}/run/ns/mnt ${join(store, "one")} ${mapped}/0 ${join(store, "two")} ${mapped}/1`,
      `nsenter --mount=${dir}/run/ns/mnt -- sh -c cd -- "$0" && exec "$@" ${mapped} mount -t overlay overlay -o lowerdir=1:0,upperdir=${c}/fs/upper,workdir=${c}/fs/work ${c}/rootfs`,
    ]);
    assert.equal((await stat(join(c, "fs/upper"))).uid, 300000, "container root owns its /");
    assert.equal((await stat(join(c, "fs/upper/home/vcap"))).uid, 310001, "the container user's home, through the map");
    // A pea of it: its layers and its volumes through the same map.
    await overlay.preparePea({ containerId: id, peaId: "p1", base: { kind: "directory", path: base }, idMap, bindMounts: [{ srcPath: volume, dstPath: "/v", mode: "rw" }] });
    assert.ok(commands.lines().includes(`${graft} --idmap 300000:65536 ${dir}/run/ns/mnt ${base} ${join(c, "idmapped", "p1")}/0`));
    assert.ok(commands.lines().includes(`${graft} --idmap 300000:65536 ${dir}/run/ns/mnt ${volume} ${join(c, "pea-volumes", "p1", "0")}`));
    const before = commands.lines().length;
    await overlay.unmount(id);
    const after = commands.lines().slice(before);
    const rootUnmounted = after.findIndex((l) => l.endsWith(`umount ${c}/rootfs`));
    const copiesTaken = after.findIndex((l) => l.includes("make-rprivate") && l.endsWith(`sh ${mapped}/0 ${mapped}/1`));
    assert.ok(rootUnmounted >= 0 && copiesTaken > rootUnmounted, after.join("\n"));
    assert.ok(after.some((l) => l.includes("make-rprivate") && l.endsWith(`sh ${join(c, "idmapped", "p1")}/0`)), "the pea's copies too");
    for (const root of ["rootfs", "p1"]) await assert.rejects(stat(join(c, "idmapped", root)), { code: "ENOENT" });
  });

  it("mounts images' contents read-only for a pea: one layer as a read-only copy, more as an overlay without an upper layer, a sub-path bound from inside it", async () => {
    const commands = new RecordingRunner().on("getfattr", { code: 1 });
    const graft = "/opt/warden-graft";
    const overlay = new OverlayFilesystem(depot, new RuntimeMountNamespace(join(dir, "run"), commands, async () => [], graft), (ip) => `nameserver ${ip}\n`, commands);
    const store = join(dir, "iv");
    for (const l of ["x", "y"]) await mkdir(join(store, l, "etc"), { recursive: true });
    const id = "1j1cdsetukm";
    await depot.create(id);
    const c = join(dir, "depot", id);
    const root = await overlay.preparePea({
      containerId: id,
      peaId: "p3",
      base: { kind: "directory", path: base },
      imageMounts: [
        { layers: [join(store, "x")], dstPath: "/one" },
        { layers: [join(store, "x"), join(store, "y")], dstPath: "/two", subPath: "etc" },
      ],
    });
    const staged = join(c, "pea-volumes", "p3");
    assert.deepEqual(root.bindMounts, [
      { srcPath: join(staged, "image-0"), dstPath: "/one", mode: "ro", propagation: "private" },
      { srcPath: join(staged, "image-1", "etc"), dstPath: "/two", mode: "ro", propagation: "private" },
    ]);
    assert.ok(commands.lines().includes(`${graft} --rro ${dir}/run/ns/mnt ${join(store, "x")} ${join(staged, "image-0")}`));
    assert.equal(commands.lines().at(-1), `nsenter --mount=${dir}/run/ns/mnt -- sh -c cd -- "$0" && exec "$@" ${store} mount -t overlay overlay -o ro,lowerdir=y:x ${join(staged, "image-1")}`);
    await overlay.removePea(id, "p3");
    const ungraft = commands.lines().find((l) => l.includes("make-rprivate")) ?? "";
    assert.ok(ungraft.endsWith(`sh ${join(staged, "image-0")} ${join(staged, "image-1")}`), ungraft);
  });

  it("says what a path of a base is, naming a symbolic link as one and seeing nothing through it", async () => {
    const overlay = fs(new RecordingRunner().on("getfattr", { code: 1 }));
    const layers = [join(dir, "fb", "lower"), join(dir, "fb", "upper")];
    await mkdir(join(layers[0], "d", "e"), { recursive: true });
    await mkdir(layers[1], { recursive: true });
    await writeFile(join(layers[0], "d", "f"), "");
    await symlink("/etc", join(layers[1], "out"));
    const base = { kind: "layers" as const, layers };
    assert.equal(await overlay.findInBase(base, "d/e"), "directory");
    assert.equal(await overlay.findInBase(base, "d/f"), "file");
    assert.equal(await overlay.findInBase(base, "out"), "symlink");
    assert.equal(await overlay.findInBase(base, "out/passwd"), undefined, "nothing is found through a link");
    assert.equal(await overlay.findInBase(base, "nope"), undefined);
  });
});
