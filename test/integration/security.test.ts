// Escape probes: root in a container (a privileged job) tries what would
// reach the host or another container. Each attempt must fail, and the host
// must show it did not happen. Then the daemon's own door: the socket.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { WardenClient } from "../../src/client/client.js";
import { run } from "../../src/linux/command.js";
import { DEFAULT_ROOTFS, startDaemon, USERNS_ROOT, type TestDaemon } from "./harness.js";

/** Runs as root in the container; fails the test if the script did not even run. */
async function asRoot(c: WardenClient, handle: string, script: string) {
  const r = await c.run(handle, script, { privileged: true });
  assert.ok(!r.stderr.includes("command not found"), r.stderr);
  return r;
}

describe("escape probes, as root in a container", () => {
  let daemon: TestDaemon;
  let c: WardenClient;
  let a: string;
  let b: string;
  let hostSleeper: ChildProcess;

  before(async () => {
    daemon = await startDaemon();
    c = await daemon.client();
    a = await c.create();
    b = await c.create();
    hostSleeper = spawn("sleep", ["600"], { stdio: "ignore" });
  });

  after(async () => {
    hostSleeper.kill("SIGKILL");
    await daemon.stop();
  });

  it("runs in a user namespace, as an unprivileged host uid, under seccomp", async () => {
    const r = await asRoot(c, a, "cat /proc/self/uid_map; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status");
    assert.match(r.stdout, new RegExp(`^\\s*0\\s+${USERNS_ROOT}\\s+65536$`, "m"));
    assert.match(r.stdout, /^Seccomp:\s+2$/m);
    assert.match(r.stdout, /^NoNewPrivs:\s+1$/m);
    // The second container got the filter crun compiled for the first, ready-made: the same filter.
    const second = await asRoot(c, b, "grep -E '^Seccomp' /proc/self/status");
    assert.match(second.stdout, /^Seccomp:\s+2$/m);
    assert.match(second.stdout, /^Seccomp_filters:\s+1$/m);
    const config = JSON.parse(await readFile(join(daemon.depot, b, "bundle/config.json"), "utf8"));
    assert.ok(config.annotations?.["run.oci.seccomp_bpf_data"], "the second container's bundle carries the compiled filter");
    const blocked = await asRoot(c, b, "busybox swapon /dev/null; echo rc=$?");
    assert.match(blocked.stderr, /Operation not permitted/, "swapon is refused by the filter");
    // What the host sees: the job's process belongs to the namespace's root, not to root.
    const job = await c.spawn(a, "sleep 30", { privileged: true });
    const { stdout } = await run(["ps", "-o", "uid=,args=", "-e"]);
    const line = stdout.split("\n").find((l) => l.includes("sleep 30"));
    assert.ok(line, "the job is visible on the host");
    assert.equal(Number(line.trim().split(/\s+/)[0]), USERNS_ROOT);
    await c.call("Stop", { handle: a, kill: true });
    await c.link(a, job);
    // Stopped containers keep their files but run nothing: make a fresh one for the rest.
    a = await c.create();
  });

  it("mount a file system: refused", async () => {
    const r = await asRoot(
      c,
      a,
      "mkdir -p /mnt; mount -t tmpfs none /mnt; mount -t proc proc /tmp; mount -o bind / /mnt; grep -c ' /mnt ' /proc/self/mountinfo",
    );
    // busybox words EPERM as "permission denied (are you root?)".
    assert.equal((r.stderr.match(/Operation not permitted|permission denied/gi) ?? []).length, 3, r.stderr);
    assert.equal(r.stdout.trim(), "0");
  });

  it("create a block device node and read the host disk: refused", async () => {
    const dev = (await stat("/")).dev;
    const [major, minor] = [Math.floor(dev / 256) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00)];
    const r = await asRoot(c, a, `mknod /tmp/disk b ${major} ${minor}; head -c 512 /tmp/disk | wc -c; ls /tmp/disk`);
    assert.match(r.stderr, /mknod: \/tmp\/disk: Operation not permitted/);
    assert.match(r.stderr, /No such file/);
  });

  // This kernel has no magic SysRq (and no modules); where it has, /proc/sysrq-trigger is read-only.
  const SYSRQ_REFUSED = existsSync("/proc/sysrq-trigger")
    ? /Read-only file system|Permission denied/
    : /No such file or directory|nonexistent directory/;

  it("write /proc/sysrq-trigger: refused", async () => {
    const r = await asRoot(c, a, "echo h > /proc/sysrq-trigger");
    assert.notEqual(r.exit_status, 0);
    assert.match(r.stderr, SYSRQ_REFUSED);
  });

  it("load a kernel module: refused", async () => {
    const modules = () => readFile("/proc/modules", "utf8").catch(() => "no module support");
    const before = await modules();
    const r = await asRoot(c, a, "head -c 4096 /dev/urandom > /tmp/evil.ko; busybox insmod /tmp/evil.ko; echo rc=$?");
    assert.match(r.stdout, /rc=[1-9]/);
    // Refused before the kernel looks at the file: seccomp and the missing CAP_SYS_MODULE say EPERM.
    assert.match(r.stderr, /Operation not permitted/);
    assert.equal(await modules(), before);
  });

  it("change the host's hostname or clock: refused, and the host's are unchanged", async () => {
    const host = hostname();
    const r = await asRoot(c, a, "hostname evil; date -s '2001-01-01 00:00:00'; hostname");
    assert.match(r.stderr, /hostname: sethostname: Operation not permitted/);
    assert.match(r.stderr, /date: can't set date: Operation not permitted/);
    assert.equal(r.stdout.trim().split("\n").at(-1), a, "the container keeps its own name");
    assert.equal(hostname(), host);
    assert.ok(new Date().getFullYear() >= 2024, "the host's clock is untouched");
  });

  it("see or signal host processes: they do not exist inside", async () => {
    const pid = hostSleeper.pid!;
    const r = await asRoot(c, a, `ls /proc | grep -c '^[0-9]'; test -e /proc/${pid} && echo visible; kill -9 ${pid}; echo rc=$?`);
    assert.ok(Number(r.stdout.split("\n")[0]) < 10, `a handful of processes: ${r.stdout}`);
    assert.ok(!r.stdout.includes("visible"));
    assert.match(r.stdout, /rc=1/);
    assert.equal(hostSleeper.exitCode, null);
    assert.ok(existsSync(`/proc/${pid}`), "the host process lives on");
  });

  it("ptrace a process outside the container: none can be named, and CAP_SYS_PTRACE is not held", async () => {
    const pid = hostSleeper.pid!;
    const r = await asRoot(c, a, `cat /proc/${pid}/environ; nsenter -t ${pid} -m true; grep CapBnd /proc/self/status`);
    assert.match(r.stderr, /No such file/);
    assert.match(r.stderr, /nsenter: .*No such file/);
    const bounding = BigInt(`0x${/CapBnd:\s+([0-9a-f]+)/.exec(r.stdout)![1]}`);
    for (const [name, bit] of [["SYS_PTRACE", 19n], ["SYS_ADMIN", 21n], ["SYS_MODULE", 16n], ["NET_ADMIN", 12n], ["NET_RAW", 13n]] as const) {
      assert.equal(bounding & (1n << bit), 0n, `CAP_${name} held`);
    }
  });

  it("open a raw socket to another container: refused", async () => {
    const ip = (await c.call("Info", { handle: b })).container_ip;
    const r = await asRoot(c, a, `ping -c 1 -W 1 ${ip}; echo rc=$?; nc -w 1 ${ip} 22 </dev/null; echo rc=$?`);
    assert.match(r.stderr, /ping: permission denied/);
    assert.match(r.stdout, /rc=1[\s\S]*rc=1/);
  });

  it("read another container's files: they are nowhere in its tree", async () => {
    await asRoot(c, b, "echo secret > /tmp/secret-of-b; echo secret > /root/secret-of-b");
    const bPath = (await c.call("Info", { handle: b })).container_path;
    const r = await asRoot(
      c,
      a,
      `find / -xdev -name 'secret-of-b' 2>/dev/null; find /proc/*/root/ -maxdepth 2 -name 'secret-of-b' 2>/dev/null; ls ${bPath}; echo done`,
    );
    assert.equal(r.stdout.trim(), "done");
    assert.match(r.stderr, /No such file/);
  });

  it("gain capabilities through a new user namespace: one cannot be made (seccomp), nor any other namespace", async () => {
    const r = await asRoot(c, a, "unshare -U -r sh -c 'id -u; hostname evil'; unshare -n true; unshare -m true; hostname");
    // Refused by the filter (Docker's rule: no namespaces without CAP_SYS_ADMIN), not by the kernel.
    assert.match(r.stderr, /unshare\(0x10000000\): Operation not permitted/);
    assert.match(r.stderr, /unshare\(0x40000000\): /);
    assert.match(r.stderr, /unshare\(0x20000\): /);
    assert.ok(!r.stderr.includes("sethostname"), "no shell ever ran inside a new namespace");
    assert.equal(r.stdout.trim().split("\n").at(-1), a);
  });

  it("write to the base root filesystem: the writes stay in the container's own layer", async () => {
    const r = await asRoot(c, a, "echo evil > /bin/evil; echo evil >> /etc/profile; rm -f /bin/cat; ls /bin/evil");
    assert.equal(r.exit_status, 0, r.stderr);
    assert.ok(!existsSync(join(DEFAULT_ROOTFS, "bin/evil")));
    assert.ok(existsSync(join(DEFAULT_ROOTFS, "bin/cat")));
    for (const shifted of await readdir(join(daemon.depot, ".rootfs"))) {
      assert.ok(!existsSync(join(daemon.depot, ".rootfs", shifted, "bin/evil")), "the shifted base is untouched");
    }
    const other = await asRoot(c, b, "test -e /bin/evil && echo seen; test -e /bin/cat && echo cat");
    assert.equal(other.stdout.trim(), "cat");
  });

  it("reach the daemon's socket: it is not there", async () => {
    const r = await asRoot(c, a, `test -e ${daemon.socket} && echo found; find / -xdev -type s 2>/dev/null | grep -c w.sock`);
    assert.equal(r.stdout.trim(), "0");
  });
});

describe("the daemon's socket", () => {
  // node as the nobody user, trying to connect: prints "connected" or the error code.
  async function connectAsNobody(path: string): Promise<string> {
    const probe = `require("net").createConnection(${JSON.stringify(path)}).on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(0); })`;
    const { stdout } = await run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", probe]);
    return stdout.trim();
  }

  it("lets only root connect by default (0600)", async () => {
    const daemon = await startDaemon();
    try {
      assert.equal((await stat(daemon.socket)).mode & 0o777, 0o600);
      assert.equal(await connectAsNobody(daemon.socket), "EACCES");
    } finally {
      await daemon.stop();
    }
  });

  it("takes its permissions from server.unix_domain_permissions", async () => {
    const daemon = await startDaemon({ config: { server: { unix_domain_permissions: 0o666 } } });
    try {
      assert.equal(await connectAsNobody(daemon.socket), "connected");
    } finally {
      await daemon.stop();
    }
  });
});

describe("security.user_namespace: false and no seccomp profile (Warden's way)", () => {
  it("runs container root as host root, without a filter, and still isolates", async () => {
    const daemon = await startDaemon({ config: { security: { user_namespace: false, seccomp_profile: "" } } });
    try {
      const c = await daemon.client();
      const h = await c.create();
      const r = await c.run(h, "cat /proc/self/uid_map; grep -E '^Seccomp:' /proc/self/status; hostname evil", { privileged: true });
      assert.match(r.stdout, /^\s*0\s+0\s+4294967295$/m);
      assert.match(r.stdout, /^Seccomp:\s+0$/m);
      assert.match(r.stderr, /Operation not permitted/, "still no CAP_SYS_ADMIN");
      assert.equal((await c.run(h, "id -u")).stdout.trim(), "10000");
      await c.destroy(h);
    } finally {
      await daemon.stop();
    }
  });
});
