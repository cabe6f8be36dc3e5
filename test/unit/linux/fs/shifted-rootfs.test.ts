import assert from "node:assert/strict";
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ShiftedRootfs, shiftOwners } from "../../../../src/linux/fs/shifted-rootfs.js";
import { nullLogger } from "../../../fakes/fakes.js";
import { hostCommands } from "../../../../src/linux/command.js";
import { RecordingRunner } from "../../../fakes/commands.js";

const map = { hostId: 1_000_000_000, size: 65536 };

async function base(dir: string): Promise<string> {
  const root = join(dir, "base");
  await mkdir(join(root, "etc"), { recursive: true });
  await mkdir(join(root, "home/vcap"), { recursive: true });
  await writeFile(join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
  await writeFile(join(root, "bin-su"), "#!/bin/sh\n");
  await chmod(join(root, "bin-su"), 0o4755);
  await chown(join(root, "home/vcap"), 1000, 1000);
  await writeFile(join(root, "far"), "x");
  await chown(join(root, "far"), 70000, 70000);
  await symlink("/etc/passwd", join(root, "link"));
  return root;
}

describe("shifted base root filesystems", () => {
  it("adds the map's start to every owner, keeps setuid bits, and makes ids beyond the range nobody", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wshift-"));
    try {
      const root = await base(dir);
      assert.equal(await shiftOwners(root, map), 8, "base, etc, passwd, home, vcap, bin-su, far, link");
      assert.equal((await lstat(join(root, "etc/passwd"))).uid, 1_000_000_000);
      assert.equal((await lstat(join(root, "home/vcap"))).gid, 1_000_001_000);
      assert.equal((await lstat(join(root, "link"))).uid, 1_000_000_000, "the link itself, not its target");
      assert.equal((await lstat(join(root, "bin-su"))).mode & 0o7777, 0o4755);
      assert.equal((await lstat(join(root, "far"))).uid, 1_000_065_534);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("copies each base once, leaves the base alone, and makes a new copy for a replaced base", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wshift-"));
    try {
      const root = await base(dir);
      const commands = new RecordingRunner(hostCommands);
      const bases = new ShiftedRootfs(join(dir, "shifted"), map, nullLogger, commands);
      const [a, b] = await Promise.all([bases.lowerFor(root), bases.lowerFor(root)]);
      assert.equal(a, b);
      assert.deepEqual(
        commands.calls.map((c) => c.argv),
        [["cp", "-a", "--reflink=auto", "--", root, `${a}.tmp`]],
        "one copy (reflinked where the filesystem can) for two containers asking at once",
      );
      await symlink(root, join(dir, "alias"));
      assert.equal(await bases.lowerFor(join(dir, "alias")), a, "a symlink to the base is the same base");
      assert.equal((await lstat(join(a, "etc/passwd"))).uid, 1_000_000_000);
      assert.equal(await readFile(join(a, "etc/passwd"), "utf8"), "root:x:0:0::/root:/bin/sh\n");
      assert.equal((await lstat(join(root, "etc/passwd"))).uid, 0, "the base is not touched");
      await rm(root, { recursive: true });
      await base(dir);
      assert.notEqual(await bases.lowerFor(root), a);
      await bases.removeAll();
      await assert.rejects(lstat(join(dir, "shifted")));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
