// Containers on real runtimes: create, info, list, stop, destroy, root
// filesystems, bind mounts, init.
import assert from "node:assert/strict";
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { WardenClient } from "../../src/client/client.js";
import { warden } from "../../src/protocol/messages.js";
import { DEFAULT_ROOTFS, eventually, processesMentioning, RUNTIMES, startDaemon, USERNS_ROOT, type TestDaemon } from "./harness.js";

for (const runtime of RUNTIMES) {
  describe(`lifecycle on ${runtime}`, () => {
    let daemon: TestDaemon;
    let c: WardenClient;
    let scratch: string;

    before(async () => {
      daemon = await startDaemon({ runtime, config: { server: { stop_timeout: 2 } } });
      c = await daemon.client();
      scratch = await mkdtemp(join(tmpdir(), "wardentest-host-"));
      // Bind mount sources are reached as container root, an unprivileged uid.
      await chmod(scratch, 0o711);
    });

    after(async () => {
      try {
        await daemon.stop();
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    });

    it("creates a container named by an 11-character id, lists, inspects and destroys it", async () => {
      const handle = await c.create();
      assert.match(handle, /^[0-9a-v]{11}$/);
      assert.ok((await c.call("List")).handles.includes(handle));
      const info = await c.call("Info", { handle });
      assert.equal(info.state, "active");
      assert.equal(info.container_path, join(daemon.depot, handle));
      const run = await c.run(handle, "hostname; cat /etc/hostname");
      assert.equal(run.stdout, `${handle}\n${handle}\n`);
      await c.destroy(handle);
      assert.ok(!(await c.call("List")).handles.includes(handle));
      await assert.rejects(c.call("Info", { handle }), { message: "unknown handle" });
      await assert.rejects(c.destroy(handle), { message: "unknown handle" });
    });

    it("takes the client's handle, and refuses it twice", async () => {
      const handle = await c.create({ handle: "my app ✓" });
      assert.equal(handle, "my app ✓");
      await assert.rejects(c.create({ handle }), { message: "container with handle: my app ✓ already exists." });
      await c.destroy(handle);
    });

    it("starts jobs through its init (their parent is PID 1), not the runtime's exec", async () => {
      const handle = await c.create();
      const run = await c.run(handle, "grep PPid /proc/$$/status");
      assert.equal(run.stdout, "PPid:\t1\n", run.stderr);
      await c.destroy(handle);
    });

    it("runs warden-init as PID 1, which reaps orphaned zombies", async () => {
      const handle = await c.create();
      const run = await c.run(handle, "cat /proc/1/cmdline | tr '\\0' ' '; echo; (sleep 0.1 &) ; sleep 0.5; ps -o stat | grep -c Z || true", {
        privileged: true,
      });
      assert.equal(run.exit_status, 0, run.stderr);
      const [cmdline, zombies] = run.stdout.trim().split("\n");
      assert.equal(cmdline.trim(), "/dev/init -P");
      assert.equal(zombies, "0");
      await c.destroy(handle);
    });

    it("isolates pid, mount, uts, ipc and net namespaces, the net one wired to the host", async () => {
      const handle = await c.create();
      const run = await c.run(
        handle,
        "for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done; ps | wc -l; ip -o link | cut -d: -f2",
        { privileged: true },
      );
      const lines = run.stdout.trim().split("\n");
      const host = await Promise.all(["pid", "mnt", "uts", "ipc", "net"].map((n) => readlink(`/proc/self/ns/${n}`)));
      for (let i = 0; i < 5; i++) assert.notEqual(lines[i], host[i], `namespace ${i}`);
      assert.ok(Number(lines[5]) <= 5, `sees only its own processes: ${lines[5]}`);
      const info = await c.call("Info", { handle });
      const id = info.container_path.split("/").pop();
      assert.deepEqual(lines.slice(6).map((l) => l.trim().replace(/@.*/, "")), ["lo", `w-${id}-1`]);
      await c.spawn(handle, "exec nc -ll -p 8080 -e /bin/echo reached");
      await new Promise((r) => setTimeout(r, 200));
      const reached = await new Promise<string>((resolve) => {
        const s = createConnection({ host: info.container_ip, port: 8080 });
        let data = "";
        s.on("data", (b) => (data += b.toString()));
        s.on("close", () => resolve(data.trim()));
        s.on("error", (e) => resolve(String(e)));
      });
      assert.equal(reached, "reached", "the host reaches the container through its veth");
      await c.destroy(handle);
    });

    it("gives a minimal /dev, devpts, a writable /dev/shm and a read-only /sys", async () => {
      const handle = await c.create();
      const run = await c.run(
        handle,
        "ls /dev | tr '\\n' ' '; echo; echo x > /dev/shm/f && echo shm-ok; touch /sys/x 2>&1 | grep -c 'Read-only'; grep -c devpts /proc/mounts",
      );
      const [devs, shm, sysRo, devpts] = run.stdout.trim().split("\n");
      for (const d of ["null", "zero", "random", "urandom", "tty", "fuse", "ptmx", "pts", "shm"]) {
        assert.ok(devs.split(" ").includes(d), `/dev/${d} in ${devs}`);
      }
      assert.ok(!devs.split(" ").includes("sda") && !devs.split(" ").includes("kmsg"));
      assert.equal(shm, "shm-ok");
      assert.equal(sysRo, "1");
      assert.equal(devpts, "1");
      await c.destroy(handle);
    });

    it("shares the base read-only: a container's writes stay in its own layer", async () => {
      const a = await c.create();
      const b = await c.create();
      await c.run(a, "echo mine > /etc/motd-a; rm -f /bin/vi", { privileged: true });
      const seen = await c.run(b, "cat /etc/motd-a 2>&1; ls /bin/vi");
      assert.match(seen.stdout + seen.stderr, /No such file/);
      assert.match(seen.stdout, /\/bin\/vi/);
      await assert.rejects(readFile(join(DEFAULT_ROOTFS, "etc/motd-a")), { code: "ENOENT" });
      await c.destroy(a);
      await c.destroy(b);
    });

    it("accepts another rootfs, given as a directory or a symlink to one", async () => {
      const link = join(scratch, "rootfs-link");
      await symlink(DEFAULT_ROOTFS, link);
      const handle = await c.create({ rootfs: link });
      assert.equal((await c.run(handle, "echo ok")).stdout, "ok\n");
      await c.destroy(handle);
      await assert.rejects(c.create({ rootfs: join(scratch, "nope") }), {
        message: `rootfs ${join(scratch, "nope")} not found`,
      });
      await assert.rejects(c.create({ rootfs: "/tmp/a,upperdir=/etc" }), /absolute path without ','/);
    });

    it("bind-mounts host directories read-only and read-write, with the host's uids for the container user", async () => {
      const ro = join(scratch, "ro");
      const rw = join(scratch, "rw");
      await mkdir(ro);
      await mkdir(rw);
      await writeFile(join(ro, "file"), "from host\n");
      const { RO, RW } = warden.CreateRequest.BindMount.Mode;
      const handle = await c.create({
        bind_mounts: [
          { src_path: ro, dst_path: "/mnt/ro", mode: RO },
          { src_path: rw, dst_path: "/mnt/rw", mode: RW },
        ],
      });
      const uid = Number((await c.run(handle, "id -u")).stdout);
      // With crun, as on Warden, the container user's uid is the same on both
      // sides of the mount. runc 1.1 cannot map a mount: there the host sees
      // the user's uid in the namespace's range, and the directory must let it write.
      const hostUid = runtime === "crun" ? uid : USERNS_ROOT + uid;
      if (runtime === "crun") await chown(rw, uid, uid);
      else await chmod(rw, 0o777);
      const run = await c.run(handle, "cat /mnt/ro/file; touch /mnt/ro/x; echo written > /mnt/rw/out");
      assert.equal(run.stdout, "from host\n");
      assert.match(run.stderr, /Read-only file system/);
      assert.equal(await readFile(join(rw, "out"), "utf8"), "written\n");
      assert.equal((await stat(join(rw, "out"))).uid, hostUid);
      // Container root is not host root, not even on a shared directory.
      await chmod(rw, 0o777);
      const asRoot = await c.run(handle, "echo root > /mnt/rw/by-root", { privileged: true });
      assert.equal(asRoot.exit_status, 0, asRoot.stderr);
      assert.equal((await stat(join(rw, "by-root"))).uid, USERNS_ROOT);
      const hostMounts = await readFile("/proc/self/mounts", "utf8");
      // The depot itself may be a mount (the btrfs quota volume); nothing of a container is.
      assert.ok(!hostMounts.includes("/mnt/ro") && !hostMounts.includes(`${daemon.depot}/`), "not in the host's mount table");
      await c.destroy(handle);
    });

    it("lets the container user and container root write a root-owned 0777 directory, as on Warden, and no more", async () => {
      const shared = join(scratch, "shared");
      await mkdir(shared);
      await chmod(shared, 0o777);
      await writeFile(join(shared, "secret"), "host only\n", { mode: 0o600 });
      const closed = join(scratch, "closed");
      await mkdir(closed, { mode: 0o755 });
      const { RW } = warden.CreateRequest.BindMount.Mode;
      const handle = await c.create({
        bind_mounts: [
          { src_path: shared, dst_path: "/mnt/shared", mode: RW },
          { src_path: closed, dst_path: "/mnt/closed", mode: RW },
        ],
      });
      const uid = Number((await c.run(handle, "id -u")).stdout);
      const user = await c.run(handle, "echo from-user > /mnt/shared/by-user && echo ok");
      assert.deepEqual([user.exit_status, user.stdout], [0, "ok\n"], user.stderr);
      const root = await c.run(handle, "echo from-root > /mnt/shared/by-root && echo ok", { privileged: true });
      assert.deepEqual([root.exit_status, root.stdout], [0, "ok\n"], root.stderr);
      // The host sees the files, owned by the writer's host uid: the container's own uid where the
      // runtime maps the mount (crun), the namespace's id otherwise (runc 1.1); root's is never host root.
      assert.equal(await readFile(join(shared, "by-user"), "utf8"), "from-user\n");
      assert.equal(await readFile(join(shared, "by-root"), "utf8"), "from-root\n");
      assert.equal((await stat(join(shared, "by-user"))).uid, runtime === "crun" ? uid : USERNS_ROOT + uid);
      assert.equal((await stat(join(shared, "by-root"))).uid, USERNS_ROOT);
      // Host root's own files stay host root's: container root reads, changes and gets no more than anyone.
      const probe = await c.run(
        handle,
        "cat /mnt/shared/secret || echo no-read; chmod 666 /mnt/shared/secret || echo no-chmod; " +
          "touch /mnt/closed/x || echo no-write",
        { privileged: true },
      );
      assert.match(probe.stdout, /no-read\nno-chmod\nno-write\n/, probe.stderr);
      assert.equal((await stat(join(shared, "secret"))).mode & 0o777, 0o600);
      await c.destroy(handle);
    });

    it("refuses a bind mount whose source is missing, with Warden's text, and leaves nothing", async () => {
      const missing = join(scratch, "missing");
      const before = (await c.call("List")).handles;
      const depotBefore = await readdir(daemon.depot);
      await assert.rejects(
        c.create({ bind_mounts: [{ src_path: missing, dst_path: "/x", mode: 0 }] }),
        { message: `Source path for bind mount does not exist: ${missing}` },
      );
      assert.deepEqual((await c.call("List")).handles, before);
      assert.deepEqual(await readdir(daemon.depot), depotBefore);
    });

    it("stops: TERM to every process, and a job trapping TERM exits with its own code", async () => {
      const handle = await c.create();
      const job = await c.spawn(handle, "trap 'exit 37' TERM; echo ready; while true; do sleep 0.05; done");
      await waitForOutput(daemon, handle, job, "ready");
      await c.call("Stop", { handle });
      const link = await c.link(handle, job);
      assert.equal(link.exit_status, 37);
      assert.equal((await c.call("Info", { handle })).state, "stopped");
      await assert.rejects(c.run(handle, "true"), {
        message: "Container state must be one of 'active', current state is 'stopped'",
      });
      await c.destroy(handle);
    });

    it("stops a job that ignores TERM with KILL after the stop timeout", async () => {
      const handle = await c.create();
      const job = await c.spawn(handle, "trap '' TERM; echo ready; while true; do sleep 0.05; done");
      await waitForOutput(daemon, handle, job, "ready");
      const started = Date.now();
      await c.call("Stop", { handle });
      const took = Date.now() - started;
      assert.ok(took >= 1900, `waited ${took} ms for the 2 s stop timeout`);
      assert.equal((await c.link(handle, job)).exit_status, 255, "killed by a signal: 255, as Warden");
      await c.destroy(handle);
    });

    it("stops with kill at once", async () => {
      const handle = await c.create();
      const job = await c.spawn(handle, "trap 'exit 37' TERM; while true; do sleep 0.05; done");
      await c.call("Stop", { handle, kill: true });
      assert.equal((await c.link(handle, job)).exit_status, 255, "killed by a signal: 255, as Warden");
      await c.destroy(handle);
    });

    it("answers a background Stop at once and stops afterwards", async () => {
      const handle = await c.create();
      const job = await c.spawn(handle, "trap '' TERM; echo ready; while true; do sleep 0.05; done");
      await waitForOutput(daemon, handle, job, "ready");
      const started = Date.now();
      await c.call("Stop", { handle, background: true });
      assert.ok(Date.now() - started < 1000, "answered before the stop timeout");
      assert.equal((await c.call("Info", { handle })).state, "stopped");
      assert.equal((await c.link(handle, job)).exit_status, 255, "killed by a signal: 255, as Warden");
      await c.destroy(handle);
    });

    it("destroys a container with jobs running, leaving no process behind", async () => {
      const handle = await c.create();
      await c.spawn(handle, "sleep 1000 & sleep 1000");
      const path = (await c.call("Info", { handle })).container_path!;
      await c.destroy(handle);
      // Its processes are dead when Destroy answers; their supervisors finish a moment later.
      await eventually(async () => (await processesMentioning(path)).length === 0, "the container's supervisors to be gone");
    });

  });
}

describe("another init (server.init_path: catatonit)", () => {
  it("only reaps: jobs go through the runtime's exec, as they did", async () => {
    const daemon = await startDaemon({ config: { server: { init_path: "/usr/bin/catatonit" } } });
    try {
      const c = await daemon.client();
      const handle = await c.create();
      const run = await c.run(handle, "cat /proc/1/cmdline | tr '\\0' ' '; grep PPid /proc/$$/status; id -un");
      assert.equal(run.stdout, "/dev/init -P PPid:\t0\nvcap\n", run.stderr);
      await c.destroy(handle);
    } finally {
      await daemon.stop();
    }
  });
});

/** Streams a job until `text` shows up in its stdout. */
export async function waitForOutput(daemon: TestDaemon, handle: string, job: number, text: string): Promise<void> {
  const other = await daemon.client();
  let seen = "";
  for await (const frame of other.stream(handle, job)) {
    seen += frame.data ?? "";
    if (seen.includes(text)) break;
  }
  other.close();
}
