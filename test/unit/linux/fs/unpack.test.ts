// Archives from a hostile container, made by hand, unpacked on the host:
// nothing lands outside the destination, nothing goes through a link.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, it } from "node:test";
import * as tar from "tar";
import { unpack } from "../../../../src/linux/fs/container-copy.js";

interface Entry {
  path: string;
  type?: string;
  body?: string;
  linkpath?: string;
  mode?: number;
}

function archive(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? "");
    const header = new tar.Header({
      path: e.path,
      type: (e.type ?? "File") as never,
      mode: e.mode ?? 0o644,
      size: e.type && e.type !== "File" ? 0 : body.length,
      linkpath: e.linkpath,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (body.length) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

describe("unpacking a container's archive on the host", () => {
  let base: string;
  let dst: string;
  let outside: string;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), "wunpack-"));
    outside = join(base, "outside");
    await mkdir(outside);
  });

  after(() => rm(base, { recursive: true, force: true }));

  async function unpackInto(entries: Entry[]): Promise<unknown> {
    dst = await mkdtemp(join(base, "dst-"));
    const into = unpack(dst);
    try {
      await pipeline(Readable.from([archive(entries)]), into.stream);
      await into.finish();
      return undefined;
    } catch (err) {
      return err;
    }
  }

  it("keeps files, directories, modes and symlinks as they were", async () => {
    await unpackInto([
      { path: "d/", type: "Directory", mode: 0o750 },
      { path: "d/f", body: "data", mode: 0o640 },
      { path: "d/l", type: "SymbolicLink", linkpath: "/etc/passwd" },
    ]);
    assert.equal(await readFile(join(dst, "d/f"), "utf8"), "data");
    assert.equal((await lstat(join(dst, "d/f"))).mode & 0o7777, 0o640);
    assert.equal((await lstat(join(dst, "d"))).mode & 0o7777, 0o750);
    assert.equal(await readlink(join(dst, "d/l")), "/etc/passwd", "the link as the container had it");
  });

  it("never writes above the destination with ..", async () => {
    await unpackInto([{ path: "../../outside/evil", body: "x" }, { path: "a/../../outside/evil2", body: "x" }]);
    assert.deepEqual(await readdir(outside), []);
  });

  it("keeps absolute paths inside the destination", async () => {
    await unpackInto([{ path: `${outside}/abs`, body: "x" }]);
    assert.deepEqual(await readdir(outside), []);
  });

  it("never writes through a symlink the archive made", async () => {
    const err = await unpackInto([
      { path: "link", type: "SymbolicLink", linkpath: outside },
      { path: "link/evil", body: "x" },
    ]);
    assert.deepEqual(await readdir(outside), []);
    // Either the file went into a real directory and the link was not made, or the copy failed.
    if (!err) assert.ok((await lstat(join(dst, "link"))).isDirectory());
  });

  it("refuses a hard link to a host file", async () => {
    const err = await unpackInto([{ path: "h", type: "Link", linkpath: "/etc/passwd" }]);
    assert.ok(err, "refused");
    assert.equal(existsSync(join(dst, "h")) && (await lstat(join(dst, "h"))).nlink > 1, false);
  });

  it("makes no device, and drops setuid and setgid bits", async () => {
    await unpackInto([
      { path: "dev", type: "CharacterDevice" },
      { path: "suid", body: "#!/bin/sh\n", mode: 0o6755 },
    ]);
    assert.equal(existsSync(join(dst, "dev")), false);
    assert.equal((await lstat(join(dst, "suid"))).mode & 0o7777, 0o755);
  });
});
