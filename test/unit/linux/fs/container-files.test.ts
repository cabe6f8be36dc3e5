import assert from "node:assert/strict";
import { lstat, mkdtemp, readFile, rm, stat, writeFile, mkdir, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { hostsFile, withGroup, withUser, writeContainerFiles } from "../../../../src/linux/fs/container-files.js";
import { directoryView } from "../../../../src/linux/fs/layer-view.js";

describe("container files", () => {
  it("sets vcap to the container's uid, replacing the base's own entry", () => {
    const passwd = "root:x:0:0:root:/root:/bin/bash\nvcap:x:1000:1000::/home/vcap:/bin/sh\nbin:x:2:2::/:/bin/false\n";
    assert.equal(
      withUser(passwd, 10001),
      "root:x:0:0:root:/root:/bin/bash\nbin:x:2:2::/:/bin/false\nvcap:x:10001:10001::/home/vcap:/bin/bash\n",
    );
    assert.equal(withGroup("root:x:0:\nvcap:x:1000:\n", 10001), "root:x:0:\nvcap:x:10001:\n");
  });

  it("adds root and vcap to a base without accounts", () => {
    assert.equal(withUser("", 7), "root:x:0:0:root:/root:/bin/bash\nvcap:x:7:7::/home/vcap:/bin/bash\n");
  });

  it("names the container in /etc/hosts", () => {
    assert.equal(hostsFile("abc"), "127.0.0.1 localhost\n127.0.0.1 abc\n");
    assert.equal(hostsFile("abc", "10.254.0.2"), "127.0.0.1 localhost\n10.254.0.2 abc\n");
  });

  it("gives the container user the base's home, owned by its own uid", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wfiles-"));
    try {
      const lower = join(dir, "lower");
      const upper = join(dir, "upper");
      await mkdir(join(lower, "home/vcap/.config"), { recursive: true });
      await writeFile(join(lower, "home/vcap/.bashrc"), "PS1=x\n");
      await writeFile(join(lower, "home/vcap/.config/app"), "y");
      await symlink(".bashrc", join(lower, "home/vcap/.profile"));
      await mkdir(upper);
      await writeContainerFiles(directoryView(lower), upper, { id: "abc", uid: 10007 });
      for (const p of [".bashrc", ".config", ".config/app", ".profile"]) {
        assert.equal((await lstat(join(upper, "home/vcap", p))).uid, 10007, p);
      }
      assert.equal(await readFile(join(upper, "home/vcap/.bashrc"), "utf8"), "PS1=x\n");
      assert.equal((await lstat(join(lower, "home/vcap/.bashrc"))).uid, 0, "the base is not touched");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("writes into the upper layer only, and reads no symlink out of the base", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wfiles-"));
    try {
      const lower = join(dir, "lower");
      const upper = join(dir, "upper");
      await mkdir(join(lower, "etc"), { recursive: true });
      await mkdir(upper);
      await writeFile(join(dir, "secret"), "root:x:0:0:SECRET:/:/bin/sh\n");
      await symlink(join(dir, "secret"), join(lower, "etc/passwd"));
      await writeContainerFiles(directoryView(lower), upper, { id: "abc", uid: 10005 });
      const passwd = await readFile(join(upper, "etc/passwd"), "utf8");
      assert.ok(!passwd.includes("SECRET"));
      assert.ok(passwd.includes("vcap:x:10005:10005:"));
      assert.equal(await readFile(join(upper, "etc/hostname"), "utf8"), "abc\n");
      const home = await stat(join(upper, "home/vcap"));
      assert.equal(home.uid, 10005);
      assert.equal((await stat(join(upper, "tmp"))).mode & 0o7777, 0o1777);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("owns what it writes through the user namespace's map", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wfiles-"));
    try {
      const lower = join(dir, "lower");
      const upper = join(dir, "upper");
      await mkdir(join(lower, "home/vcap"), { recursive: true });
      await writeFile(join(lower, "home/vcap/.bashrc"), "PS1=x\n");
      await mkdir(upper);
      const idMap = { hostId: 1_000_000_000, size: 65536 };
      await writeContainerFiles(directoryView(lower), upper, { id: "abc", uid: 10005, resolvConf: "nameserver 1.1.1.1\n", idMap });
      for (const p of ["etc", "etc/passwd", "etc/group", "etc/hosts", "etc/hostname", "etc/resolv.conf", "home", "root", "tmp"]) {
        const st = await lstat(join(upper, p));
        assert.deepEqual([st.uid, st.gid], [1_000_000_000, 1_000_000_000], p);
      }
      for (const p of ["home/vcap", "home/vcap/.bashrc"]) assert.equal((await lstat(join(upper, p))).uid, 1_000_010_005, p);
      // The passwd inside names the container's own ids.
      assert.ok((await readFile(join(upper, "etc/passwd"), "utf8")).includes("vcap:x:10005:10005:"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
