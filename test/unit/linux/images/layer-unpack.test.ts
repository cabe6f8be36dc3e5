// Layers made with the host's tar, as images have them, unpacked for overlay.
import assert from "node:assert/strict";
import { createReadStream, existsSync } from "node:fs";
import { link, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { hostCommands, run } from "../../../../src/linux/command.js";
import { unpackLayer } from "../../../../src/linux/images/layer-unpack.js";

describe("layer unpacking", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "wlayer-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  async function layer(name: string, make: (root: string) => Promise<void>, tarArgs: string[] = [], members = ["."]): Promise<string> {
    const root = join(dir, `${name}-src`);
    await mkdir(root);
    await make(root);
    const blob = join(dir, `${name}.tar.gz`);
    await run(["tar", "--create", "--gzip", `--file=${blob}`, `--directory=${root}`, "--numeric-owner", ...tarArgs, ...members]);
    return blob;
  }

  it("unpacks files, hard links, symlinks, modes and owners as the layer says, and turns whiteouts into overlay's", async () => {
    const blob = await layer("one", async (root) => {
      await mkdir(join(root, "etc/app"), { recursive: true });
      await writeFile(join(root, "etc/app/conf"), "x=1\n");
      await link(join(root, "etc/app/conf"), join(root, "etc/app/hard"));
      await symlink("/etc/app/conf", join(root, "etc/app/soft"));
      await writeFile(join(root, "etc/app/suid"), "#!/bin/sh\n");
      await chmod(join(root, "etc/app/suid"), 0o4755);
      await run(["chown", "1234:5678", join(root, "etc/app/conf")]);
      await writeFile(join(root, "etc/.wh.gone"), "");
      await mkdir(join(root, "var/cache"), { recursive: true });
      await writeFile(join(root, "var/cache/.wh..wh..opq"), "");
      await writeFile(join(root, "var/cache/new"), "fresh");
    });
    const into = join(dir, "one");
    await mkdir(into);
    await unpackLayer(hostCommands, createReadStream(blob), into, { image: "test" });
    assert.equal(await readFile(join(into, "etc/app/hard"), "utf8"), "x=1\n");
    assert.equal((await lstat(join(into, "etc/app/hard"))).ino, (await lstat(join(into, "etc/app/conf"))).ino, "a hard link stays one");
    assert.equal(await readlink(join(into, "etc/app/soft")), "/etc/app/conf");
    assert.equal((await lstat(join(into, "etc/app/suid"))).mode & 0o7777, 0o4755);
    const conf = await lstat(join(into, "etc/app/conf"));
    assert.deepEqual([conf.uid, conf.gid], [1234, 5678]);
    const gone = await lstat(join(into, "etc/gone"));
    assert.ok(gone.isCharacterDevice() && gone.rdev === 0, "a whiteout is a 0:0 character device");
    assert.equal(existsSync(join(into, "etc/.wh.gone")), false);
    const { stdout } = await run(["getfattr", "--only-values", "-n", "trusted.overlay.opaque", join(into, "var/cache")]);
    assert.equal(stdout, "y");
    assert.equal(existsSync(join(into, "var/cache/.wh..wh..opq")), false);
  });

  it("shifts owners into a user namespace's range", async () => {
    const blob = await layer("two", async (root) => {
      await writeFile(join(root, "file"), "");
      await run(["chown", "7:8", join(root, "file")]);
    });
    const into = join(dir, "two");
    await mkdir(into);
    await unpackLayer(hostCommands, createReadStream(blob), into, { image: "test", idMap: { hostId: 1_000_000_000, size: 65536 } });
    const st = await lstat(join(into, "file"));
    assert.deepEqual([st.uid, st.gid], [1_000_000_007, 1_000_000_008]);
  });

  it("keeps a hostile layer inside: no absolute paths, no .., nothing written through a link it made", async () => {
    const outside = join(dir, "outside");
    await mkdir(outside);
    const blob = await layer("evil", async (root) => {
      await symlink(outside, join(root, "escape"));
      await mkdir(join(root, "sub"));
      await writeFile(join(root, "sub/file"), "through the link");
      // The link first, then a file under its name: the classic way out.
    }, ["--transform=s,^sub,escape,"], ["escape", "sub/file"]);
    const { stdout: listed } = await run(["tar", "-tzf", blob]);
    assert.deepEqual(listed.trim().split("\n"), ["escape", "escape/file"], "the archive is the hostile one meant");
    const into = join(dir, "evil");
    await mkdir(into);
    await unpackLayer(hostCommands, createReadStream(blob), into, { image: "test" }).catch(() => {});
    assert.equal(existsSync(join(outside, "file")), false, "nothing was written through the symlink");
    const dotdot = await layer("dotdot", async (root) => {
      await writeFile(join(root, "x"), "up");
    }, ["--transform=s,^x,../../up-and-out,", "-P"], ["x"]);
    assert.equal((await run(["tar", "-tzf", dotdot])).stdout.trim(), "../../up-and-out");
    const into2 = join(dir, "deep/er");
    await mkdir(into2, { recursive: true });
    await unpackLayer(hostCommands, createReadStream(dotdot), into2, { image: "test" }).catch(() => {});
    assert.equal(existsSync(join(dir, "up-and-out")), false, "nothing was written above the layer");
  });

  it("checks every byte against the digest, also those after the archive's end that tar never reads", async () => {
    const blob = await layer("checked", async (root) => writeFile(join(root, "f"), "content"));
    const bytes = await readFile(blob);
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    const fresh = async (name: string) => {
      const into = join(dir, name);
      await mkdir(into);
      return into;
    };
    let seen = 0;
    await unpackLayer(hostCommands, Readable.from([bytes]), await fresh("checked-ok"), { image: "img", expect: { digest, size: bytes.length }, onBytes: (n) => (seen += n) });
    assert.equal(seen, bytes.length);
    // The same archive with a tail: gzip's stream ends, tar is done, the digest is not.
    const tailed = Buffer.concat([bytes, Buffer.alloc(4096, 7)]);
    await assert.rejects(
      unpackLayer(hostCommands, Readable.from([tailed]), await fresh("checked-tail"), { image: "img", expect: { digest, size: tailed.length } }),
      { code: "DIGEST_MISMATCH" },
    );
    await assert.rejects(
      unpackLayer(hostCommands, Readable.from([tailed]), await fresh("checked-long"), { image: "img", expect: { digest, size: bytes.length } }),
      { code: "DIGEST_MISMATCH", detail: /more than the \d+ bytes/ },
    );
    // Plain and zstd layers are told from their first bytes, as tar reads a pipe.
    const plain = join(dir, "plain.tar");
    await run(["sh", "-c", 'gzip -dc "$0" > "$1" && zstd -q -f "$1" -o "$1.zst"', blob, plain]);
    for (const file of [plain, `${plain}.zst`]) {
      const into = await fresh(`checked-${file.endsWith("zst") ? "zstd" : "plain"}`);
      await unpackLayer(hostCommands, createReadStream(file), into, { image: "img" });
      assert.equal(await readFile(join(into, "f"), "utf8"), "content");
    }
  });

  it("says a layer that is not a tar cannot be unpacked", async () => {
    const blob = join(dir, "garbage");
    await writeFile(blob, "this is not a tar");
    const into = join(dir, "garbage-out");
    await mkdir(into);
    await assert.rejects(unpackLayer(hostCommands, createReadStream(blob), into, { image: "img" }), { code: "IMAGE_INVALID", message: /img cannot be used: a layer cannot be unpacked/ });
  });
});
