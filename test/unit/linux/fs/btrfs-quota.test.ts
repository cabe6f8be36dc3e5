import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BtrfsDepot, BtrfsQuota } from "../../../../src/linux/fs/btrfs-quota.js";
import type { MountEntry } from "../../../../src/linux/mountinfo.js";
import { RecordingRunner } from "../../../fakes/commands.js";
import { nullLogger } from "../../../fakes/fakes.js";

const UUID = "0b8a8f06-5a1c-4f2e-9a55-0d1e8d1f6c3a";
const ID = "1j1cdsetukg";

describe("btrfs disk quotas", () => {
  let dir: string;
  let depot: string;
  let sysfs: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wbtrfs-"));
    depot = join(dir, "depot");
    sysfs = join(dir, "sysfs");
    await mkdir(depot);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const root: MountEntry = { mountPoint: "/", fsType: "ext4", source: "/dev/vda1", optional: [] };

  it("makes a sparse image, loop-mounts it on an empty depot that is not btrfs, and turns quotas on", async () => {
    const commands = new RecordingRunner().on("filesystem show", { stdout: `Label: none  uuid: ${UUID}\n` });
    const btrfs = new BtrfsDepot({ depot, image: join(dir, "depot.btrfs"), imageSize: 1 << 30, log: nullLogger, commands, sysfsRoot: sysfs, readMounts: async () => [root] });
    await btrfs.ensure();
    assert.deepEqual(commands.lines(), [
      `truncate -s 1073741824 ${dir}/depot.btrfs`,
      `mkfs.btrfs -q ${dir}/depot.btrfs`,
      `mount -o loop ${dir}/depot.btrfs ${depot}`,
      `btrfs quota enable ${depot}`,
      `btrfs filesystem show ${depot}`,
      `btrfs qgroup show --raw ${depot}`,
    ]);
    assert.equal(btrfs.sysfs, join(sysfs, UUID));
    await btrfs.tearDown();
    assert.equal(commands.lines().at(-1), `umount ${depot}`, "what it mounted it unmounts");
  });

  it("refuses a depot that is not btrfs and not empty, rather than hide what is there", async () => {
    await writeFile(join(depot, "someone's file"), "");
    const btrfs = new BtrfsDepot({ depot, image: join(dir, "x.btrfs"), imageSize: 1, log: nullLogger, commands: new RecordingRunner(), readMounts: async () => [root] });
    await assert.rejects(btrfs.ensure(), /not empty and not on btrfs/);
    await rm(join(depot, "someone's file"));
  });

  it("gives each container a subvolume with a qgroup, limits it and reads its use from sysfs", async () => {
    const commands = new RecordingRunner()
      .on("filesystem show", { stdout: `uuid: ${UUID}\n` })
      .on("inspect-internal rootid", { stdout: "257\n" });
    const btrfs = new BtrfsDepot({ depot, image: join(dir, "y.btrfs"), imageSize: 1, log: nullLogger, commands, sysfsRoot: sysfs, readMounts: async () => [{ ...root, mountPoint: depot, fsType: "btrfs" }] });
    await btrfs.ensure();
    const quota = new BtrfsQuota(btrfs, depot, nullLogger, commands);
    const containerDir = join(depot, ID);
    await mkdir(containerDir);
    await quota.create(containerDir);
    assert.equal(commands.lines().at(-1), `btrfs subvolume create ${containerDir}/fs`, "one command on the way to the answer");
    const qgroup = join(sysfs, UUID, "qgroups", "0_257");
    await mkdir(qgroup, { recursive: true });
    await writeFile(join(qgroup, "max_referenced"), "1048576\n");
    await writeFile(join(qgroup, "referenced"), "16384\n");
    await writeFile(join(qgroup, "rsv_data"), "4096\n");
    assert.deepEqual(await quota.limits(ID), { byteSoft: 0n, byteHard: 1048576n, inodeSoft: 0n, inodeHard: 0n });
    assert.deepEqual(await quota.usage(ID), { bytesUsed: 20480n }, "committed and reserved bytes together");
    assert.equal(await readFile(join(containerDir, "fs.qgroup"), "utf8"), "257", "its qgroup id asked for once, then kept");
    await quota.setLimits(ID, { byteSoft: 0n, byteHard: 0n, inodeSoft: 0n, inodeHard: 0n });
    await writeFile(join(qgroup, "max_referenced"), "18446744073709551615\n");
    assert.equal((await quota.limits(ID)).byteHard, 0n, "no limit reads as 0");
    assert.equal(commands.lines().at(-1), `btrfs qgroup limit none ${containerDir}/fs`);
    assert.deepEqual(quota.enforces, { byteSoft: false, byteHard: true, inodeSoft: false, inodeHard: false });
  });
});
