import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MountEntry } from "../../../../src/linux/mountinfo.js";
import { RuntimeMountNamespace } from "../../../../src/linux/runtime/mount-namespace.js";
import { RecordingRunner } from "../../../fakes/commands.js";

const mount = (mountPoint: string, fsType: string, optional: string[] = []): MountEntry => ({ mountPoint, fsType, source: fsType, optional });
const line = (m: MountEntry) => `1 0 0:1 / ${m.mountPoint} rw ${m.optional.join(" ")} - ${m.fsType} ${m.source} rw`.replace("  ", " ");

describe("runtime mount namespace", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "wns-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  it("makes shared directories shared, pins the namespace on a private mount, and drops the hybrid cgroup2 mount inside", async () => {
    const netns = join(dir, "netns");
    let mounts: MountEntry[] = [mount("/sys/fs/cgroup", "tmpfs"), mount("/sys/fs/cgroup/unified", "cgroup2")];
    const commands = new RecordingRunner()
      .on(/^mount --bind /, (call) => {
        mounts.push(mount(call.argv[2], "ext4"));
        return {};
      })
      .on("unshare", (call) => {
        mounts.push(mount(call.argv[1].slice("--mount=".length), "nsfs"));
        return {};
      })
      .on("nsenter", () => ({ stdout: `${line(mount(netns, "ext4", ["master:5"]))}\n` }));
    const ns = new RuntimeMountNamespace(dir, commands, async () => mounts);
    await ns.ensure([netns]);
    const pinDir = join(dir, "ns");
    assert.deepEqual(commands.lines(), [
      `mount --bind ${netns} ${netns}`,
      `mount --make-shared ${netns}`,
      `mount --bind ${pinDir} ${pinDir}`,
      `mount --make-private ${pinDir}`,
      `unshare --mount=${pinDir}/mnt --propagation slave umount /sys/fs/cgroup/unified`,
      `nsenter --mount=${pinDir}/mnt cat /proc/self/mountinfo`,
    ]);
    assert.equal(await ns.alive(), true);
    assert.deepEqual(ns.wrap(["crun", "create"], "/b"), ["nsenter", `--mount=${pinDir}/mnt`, "--wd=/b", "--", "crun", "create"]);
  });

  it("makes the pin directories private mounts, or turns the shared ones of an older daemon private", async () => {
    const fresh = join(dir, "pins");
    const older = join(dir, "older-pins");
    const mounts: MountEntry[] = [mount(older, "ext4", ["shared:9"])];
    const commands = new RecordingRunner();
    const ns = new RuntimeMountNamespace(dir, commands, async () => mounts);
    await ns.makePrivate(fresh);
    await ns.makePrivate(older);
    assert.deepEqual(commands.lines(), [`mount --bind ${fresh} ${fresh}`, `mount --make-private ${fresh}`, `mount --make-private ${older}`]);
  });

  it("makes anew a pinned namespace that lacks the depot's mount (made before it), when nothing uses it", async () => {
    const depot = join(dir, "depot");
    const mounts: MountEntry[] = [mount(depot, "btrfs"), mount(join(dir, "ns"), "ext4"), mount(join(dir, "ns/mnt"), "nsfs")];
    const commands = new RecordingRunner()
      .on(/^umount /, () => {
        mounts.pop();
        return {};
      })
      .on("unshare", () => {
        mounts.push(mount(join(dir, "ns/mnt"), "nsfs"));
        return {};
      })
      .on("nsenter", () => ({ stdout: "" }));
    await new RuntimeMountNamespace(dir, commands, async () => mounts).ensure([], true, [depot]);
    assert.ok(commands.lines().includes(`umount ${dir}/ns/mnt`), "the old namespace is let go");
    assert.ok(commands.lines().some((l) => l.startsWith(`unshare --mount=${dir}/ns/mnt`)), "and a new one made");
  });

  it("keeps a sound pinned namespace, and refuses one that does not see the shared directories when containers use it", async () => {
    const netns = join(dir, "netns2");
    const pinned = [mount(netns, "ext4", ["shared:7"]), mount(join(dir, "ns/mnt"), "nsfs")];
    const sound = new RecordingRunner().on("nsenter", () => ({ stdout: `${line(mount(netns, "ext4", ["master:7"]))}\n` }));
    await new RuntimeMountNamespace(dir, sound, async () => pinned).ensure([netns], false);
    assert.deepEqual(sound.lines(), [`nsenter --mount=${dir}/ns/mnt cat /proc/self/mountinfo`], "nothing made anew");
    const deaf = new RecordingRunner().on("nsenter", () => ({ stdout: "" }));
    await assert.rejects(new RuntimeMountNamespace(dir, deaf, async () => pinned).ensure([netns], false), /does not see/);
  });
});
