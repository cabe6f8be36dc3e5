// CopyIn and CopyOut on a real daemon, and what a hostile container tries
// against them: every path in the container resolves inside it.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { WardenClient } from "../../src/client/client.js";
import { RUNTIMES, startDaemon, type TestDaemon } from "./harness.js";

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = join(rel, name);
      const st = await lstat(join(dir, path));
      if (st.isSymbolicLink()) out.push(`${path} -> ${await readlink(join(dir, path))}`);
      else if (st.isDirectory()) {
        out.push(`${path}/ ${(st.mode & 0o7777).toString(8)}`);
        await walk(path);
      } else out.push(`${path} ${(st.mode & 0o7777).toString(8)} ${createHash("sha1").update(await readFile(join(dir, path))).digest("hex").slice(0, 8)}`);
    }
  };
  await walk("");
  return out;
}

for (const runtime of RUNTIMES) {
  describe(`copies on ${runtime}`, () => {
    let daemon: TestDaemon;
    let c: WardenClient;
    let h: string;
    let uid: string;
    let host: string;

    before(async () => {
      daemon = await startDaemon({ runtime });
      c = await daemon.client();
      h = await c.create();
      uid = (await c.run(h, "id -u")).stdout.trim();
      host = await mkdtemp(join(tmpdir(), "wardentest-files-"));
      await mkdir(join(host, "src/sub/deeper"), { recursive: true });
      await writeFile(join(host, "src/run.sh"), "#!/bin/sh\necho run\n");
      await chmod(join(host, "src/run.sh"), 0o751);
      await writeFile(join(host, "src/sub/private"), "private\n");
      await chmod(join(host, "src/sub/private"), 0o600);
      await writeFile(join(host, "src/sub/deeper/data"), Buffer.alloc(300_000, 7));
      await symlink("run.sh", join(host, "src/relative-link"));
      await symlink("/etc/hostname", join(host, "src/absolute-link"));
    });

    after(async () => {
      try {
        await daemon.stop();
      } finally {
        await rm(host, { recursive: true, force: true });
      }
    });

    it("round-trips a directory: contents, modes and symlinks, owned by the container user inside", async () => {
      await c.call("CopyIn", { handle: h, src_path: join(host, "src"), dst_path: "/home/vcap/in" });
      const owners = await c.run(h, "find ~/in -exec stat -c '%u' {} + | sort -u");
      assert.equal(owners.stdout.trim(), uid);
      await c.call("CopyOut", { handle: h, src_path: "/home/vcap/in/src", dst_path: join(host, "back") });
      assert.deepEqual(await tree(join(host, "back/src")), await tree(join(host, "src")));
      const st = await lstat(join(host, "back/src/run.sh"));
      assert.deepEqual([st.uid, st.gid], [0, 0], "owned by root on the host");
    });

    it("follows rsync's trailing slash: dir/ copies what is in it, dir copies it", async () => {
      await c.call("CopyIn", { handle: h, src_path: `${join(host, "src")}/`, dst_path: "/home/vcap/contents" });
      await c.call("CopyIn", { handle: h, src_path: join(host, "src"), dst_path: "/home/vcap/itself" });
      const ls = await c.run(h, "ls ~/contents | tr '\\n' ' '; echo; ls ~/itself");
      assert.equal(ls.stdout, "absolute-link relative-link run.sh sub \nsrc\n");
      await c.call("CopyOut", { handle: h, src_path: "/home/vcap/contents/", dst_path: join(host, "out-contents") });
      await c.call("CopyOut", { handle: h, src_path: "/home/vcap/contents", dst_path: join(host, "out-itself") });
      assert.ok(existsSync(join(host, "out-contents/run.sh")));
      assert.ok(existsSync(join(host, "out-itself/contents/run.sh")));
    });

    it("copies a single file to a new name or into an existing directory", async () => {
      await c.call("CopyIn", { handle: h, src_path: join(host, "src/run.sh"), dst_path: "/home/vcap/renamed.sh" });
      await c.call("CopyIn", { handle: h, src_path: join(host, "src/run.sh"), dst_path: "/tmp" });
      assert.equal((await c.run(h, "~/renamed.sh; /tmp/run.sh")).stdout, "run\nrun\n");
      await c.call("CopyOut", { handle: h, src_path: "/home/vcap/renamed.sh", dst_path: join(host, "file-out.sh") });
      assert.equal(await readFile(join(host, "file-out.sh"), "utf8"), "#!/bin/sh\necho run\n");
      assert.equal((await lstat(join(host, "file-out.sh"))).mode & 0o777, 0o751);
    });

    it("gives copied-out files the owner asked for", async () => {
      await c.call("CopyOut", { handle: h, src_path: "/home/vcap/in/src/sub", dst_path: join(host, "owned"), owner: "nobody:nogroup" });
      const st = await lstat(join(host, "owned/sub/private"));
      assert.equal(st.uid, 65534);
      await assert.rejects(c.call("CopyOut", { handle: h, src_path: "/etc/hosts", dst_path: join(host, "x"), owner: "a b" }), /not user or user:group/);
    });

    it("copies out of a stopped container", async () => {
      const s = await c.create();
      await c.run(s, "echo kept > ~/note");
      await c.call("Stop", { handle: s, kill: true });
      await c.call("CopyOut", { handle: s, src_path: "/home/vcap/note", dst_path: join(host, "from-stopped") });
      assert.equal(await readFile(join(host, "from-stopped"), "utf8"), "kept\n");
      await assert.rejects(c.call("CopyIn", { handle: s, src_path: join(host, "src"), dst_path: "/tmp/x" }), /current state is 'stopped'/);
      await c.destroy(s);
    });

    it("refuses bad input clearly and changes nothing", async () => {
      await assert.rejects(c.call("CopyIn", { handle: h, src_path: "relative/path", dst_path: "/tmp/x" }), /must be an absolute path on the host/);
      await assert.rejects(c.call("CopyOut", { handle: h, src_path: "/etc/hosts", dst_path: "relative" }), /must be an absolute path on the host/);
      await assert.rejects(c.call("CopyIn", { handle: h, src_path: join(host, "missing"), dst_path: "/tmp/x" }), /does not exist on the host/);
      await assert.rejects(c.call("CopyOut", { handle: h, src_path: "/nowhere", dst_path: join(host, "nowhere") }), /command exited with failure/);
      assert.equal(existsSync(join(host, "nowhere")), false);
      await assert.rejects(c.call("CopyIn", { handle: "nope", src_path: join(host, "src"), dst_path: "/tmp" }), { message: "unknown handle" });
      assert.equal((await c.run(h, "ls /tmp/x 2>&1 || true")).stdout.includes("No such file"), true);
    });

    describe("against a hostile container", () => {
      before(async () => {
        // What a job plants to make a copy reach the host.
        await c.run(h, "cd ~ && ln -s / root-link && ln -s /etc etc-link && ln -s .. up-link && mkdir -p box && ln -s ../../.. box/escape");
      });

      it("CopyOut through a symlink to / reads the container's root, not the host's", async () => {
        await c.call("CopyOut", { handle: h, src_path: "/home/vcap/root-link/etc/passwd", dst_path: join(host, "passwd") });
        const copied = await readFile(join(host, "passwd"), "utf8");
        assert.match(copied, new RegExp(`^vcap:x:${uid}:`, "m"), "the container's passwd");
        assert.notEqual(copied, await readFile("/etc/passwd", "utf8"));
      });

      it("CopyOut of a symlink copies the link, not what it points at", async () => {
        await c.call("CopyOut", { handle: h, src_path: "/home/vcap/etc-link", dst_path: join(host, "link-out") });
        assert.equal(await readlink(join(host, "link-out")), "/etc");
      });

      it("CopyOut of a directory holding a link out keeps it a link", async () => {
        await c.call("CopyOut", { handle: h, src_path: "/home/vcap/box", dst_path: join(host, "box-out") });
        assert.equal(await readlink(join(host, "box-out/box/escape")), "../../..");
        assert.deepEqual(await readdir(join(host, "box-out/box")), ["escape"]);
      });

      it("CopyIn through symlinks to /, /etc and .. lands in the container, never on the host", async () => {
        const marker = `warden-escape-${process.pid}`;
        await writeFile(join(host, marker), "x");
        // As the container user, / and /etc of the container are not writable: refused, inside.
        await assert.rejects(c.call("CopyIn", { handle: h, src_path: join(host, marker), dst_path: `/home/vcap/root-link/${marker}` }), /command exited with failure/);
        await assert.rejects(c.call("CopyIn", { handle: h, src_path: join(host, marker), dst_path: `/home/vcap/etc-link/${marker}` }), /command exited with failure/);
        await c.call("CopyIn", { handle: h, src_path: join(host, marker), dst_path: `/home/vcap/root-link/tmp/${marker}` });
        await c.call("CopyIn", { handle: h, src_path: join(host, marker), dst_path: `/home/vcap/box/escape/tmp/${marker}-2` });
        for (const path of [`/${marker}`, `/etc/${marker}`, `/tmp/${marker}`, `/tmp/${marker}-2`]) {
          assert.equal(existsSync(path), false, `${path} must not appear on the host`);
        }
        assert.equal((await c.run(h, `cat /tmp/${marker} /tmp/${marker}-2`)).stdout, "xx", "it went into the container's /tmp");
      });
    });
  });
}
