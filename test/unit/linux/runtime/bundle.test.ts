import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildBundle, INIT_PATH_IN_CONTAINER, type BundleContext } from "../../../../src/linux/runtime/bundle.js";
import { specJson } from "../../../../src/linux/runtime/oci-spec.js";

const ctx: BundleContext = {
  id: "17l4t3ofu7b",
  rootfsPath: "/depot/17l4t3ofu7b/rootfs",
  bindMounts: [
    { srcPath: "/host/ro", dstPath: "/data/ro", mode: "ro" },
    { srcPath: "/host/rw", dstPath: "/data/rw", mode: "rw" },
  ],
  cgroupParent: "warden",
  initPath: "/usr/bin/catatonit",
};

describe("OCI bundle", () => {
  const spec = buildBundle(ctx);

  it("uses the merged overlay as a writable root and the id as hostname", () => {
    assert.deepEqual(spec.root, { path: ctx.rootfsPath, readonly: false });
    assert.equal(spec.hostname, ctx.id);
  });

  it("sets the kernel parameters it is given in its own namespaces, and none otherwise", () => {
    assert.equal(spec.linux.sysctl, undefined);
    assert.deepEqual(buildBundle({ ...ctx, sysctls: { "net.ipv4.ip_forward": "1" } }).linux.sysctl, { "net.ipv4.ip_forward": "1" });
  });

  it("gives the container its own pid, mount, uts, ipc and net namespaces", () => {
    assert.deepEqual(spec.linux.namespaces.map((n) => n.type).sort(), ["ipc", "mount", "network", "pid", "uts"]);
  });

  it("runs a reaping init, bind-mounted read-only from the host, with no capabilities", () => {
    assert.deepEqual(spec.process.args, [INIT_PATH_IN_CONTAINER, "-P"]);
    const init = spec.mounts.find((m) => m.destination === INIT_PATH_IN_CONTAINER)!;
    assert.equal(init.source, "/usr/bin/catatonit");
    assert.ok(init.options!.includes("ro"));
    assert.deepEqual(spec.process.capabilities!.bounding, []);
  });

  it("mounts /proc, a minimal /dev with devpts and /dev/shm, and /sys read-only", () => {
    const byDest = new Map(spec.mounts.map((m) => [m.destination, m]));
    assert.equal(byDest.get("/proc")!.type, "proc");
    assert.equal(byDest.get("/dev")!.type, "tmpfs");
    assert.ok(byDest.get("/dev/pts")!.options!.includes("newinstance"));
    assert.ok(byDest.get("/dev/pts")!.options!.includes("ptmxmode=0666"));
    assert.equal(byDest.get("/dev/shm")!.type, "tmpfs");
    assert.ok(byDest.get("/sys")!.options!.includes("ro"));
    // /dev comes before what is mounted under it
    const order = spec.mounts.map((m) => m.destination);
    assert.ok(order.indexOf("/dev") < order.indexOf(INIT_PATH_IN_CONTAINER));
  });

  it("creates Warden's devices and allows only them", () => {
    const devices = spec.linux.devices.map((d) => `${d.path} ${d.major}:${d.minor}`);
    for (const d of ["/dev/null 1:3", "/dev/zero 1:5", "/dev/random 1:8", "/dev/urandom 1:9", "/dev/tty 5:0", "/dev/fuse 10:229"]) {
      assert.ok(devices.includes(d), d);
    }
    const rules = spec.linux.resources.devices;
    assert.deepEqual(rules[0], { allow: false, access: "rwm" });
    assert.ok(rules.some((r) => r.allow && r.major === 136 && r.minor === undefined), "pts");
    assert.ok(rules.some((r) => r.allow && r.major === 5 && r.minor === 2), "ptmx");
    assert.ok(rules.every((r) => !r.allow || !r.access.includes("m")), "no mknod");
  });

  it("puts the container's cgroups under an absolute path of ours", () => {
    assert.equal(spec.linux.cgroupsPath, "/warden/17l4t3ofu7b");
  });

  it("bind-mounts what the client asked for, read-only or read-write", () => {
    const ro = spec.mounts.find((m) => m.destination === "/data/ro")!;
    const rw = spec.mounts.find((m) => m.destination === "/data/rw")!;
    assert.equal(ro.source, "/host/ro");
    assert.ok(ro.options!.includes("ro") && !ro.options!.includes("rw"));
    assert.ok(rw.options!.includes("rw") && !rw.options!.includes("ro"));
  });

  it("masks /proc's windows on the host and keeps /proc/sys read-only", () => {
    for (const p of ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware"]) {
      assert.ok(spec.linux.maskedPaths.includes(p), p);
    }
    for (const p of ["/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/irq"]) assert.ok(spec.linux.readonlyPaths.includes(p), p);
  });

  it("has no user namespace and no seccomp filter unless given", () => {
    assert.ok(!spec.linux.namespaces.some((n) => n.type === "user"));
    assert.equal(spec.linux.uidMappings, undefined);
    assert.equal(spec.linux.seccomp, undefined);
  });

  it("writes rlimit values beyond 2^53 as exact JSON numbers", () => {
    assert.equal(specJson({ hard: 2n ** 64n - 1n, s: "x" }), '{"hard":18446744073709551615,"s":"x"}');
  });
});

describe("OCI bundle of a container in a user namespace", () => {
  const idMap = { hostId: 1_000_000_000, size: 65536 };
  const seccomp = { defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64"], syscalls: [] };

  it("leaves a container on the host's network in the runtime's network namespace (no network entry)", () => {
    const spec = buildBundle({ ...ctx, hostNetwork: true });
    assert.deepEqual(spec.linux.namespaces.map((n) => n.type).sort(), ["ipc", "mount", "pid", "uts"]);
  });

  it("joins the namespaces the network made, with the map given as well (runc wants it)", () => {
    const spec = buildBundle({ ...ctx, idMap, seccomp, namespaces: { network: "/run/netns/x", user: "/run/userns/x" } });
    assert.deepEqual(spec.linux.namespaces.find((n) => n.type === "user"), { type: "user", path: "/run/userns/x" });
    assert.deepEqual(spec.linux.namespaces.find((n) => n.type === "network"), { type: "network", path: "/run/netns/x" });
    assert.deepEqual(spec.linux.uidMappings, [{ containerID: 0, hostID: 1_000_000_000, size: 65536 }]);
    assert.deepEqual(spec.linux.gidMappings, spec.linux.uidMappings);
    assert.deepEqual(spec.linux.seccomp, seccomp);
  });

  it("hands crun a filter compiled before instead of the profile, when there is one", () => {
    const spec = buildBundle({ ...ctx, seccomp, compiledSeccomp: "AAAAAAAAAAA=" });
    assert.equal(spec.linux.seccomp, undefined);
    assert.deepEqual(spec.annotations, { "run.oci.seccomp_bpf_data": "AAAAAAAAAAA=" });
    assert.equal(buildBundle({ ...ctx, compiledSeccomp: "AAAAAAAAAAA=" }).annotations, undefined, "no profile, no filter");
  });

  it("makes a new user namespace when there is none to join", () => {
    const spec = buildBundle({ ...ctx, idMap });
    assert.deepEqual(spec.linux.namespaces.find((n) => n.type === "user"), { type: "user" });
  });

  it("maps bind mounts so host uids above 0 are the same inside, and host root an id no container has, where the runtime can", () => {
    const mapped = buildBundle({ ...ctx, idMap, idmappedBindMounts: true }).mounts.find((m) => m.destination === "/data/rw")!;
    // Host root's files (0) are owned, through the mount, by 65534 of the host: writable when their mode says so, never as root.
    const ranges = "0-65534-1#1-1000000001-65535#1000000000-1000000000-1";
    assert.ok(mapped.options!.includes(`idmap=uids=${ranges};gids=${ranges}`), mapped.options!.join(" "));
    const plain = buildBundle({ ...ctx, idMap }).mounts.find((m) => m.destination === "/data/rw")!;
    assert.ok(!plain.options!.some((o) => o.startsWith("idmap")));
    const noUserns = buildBundle({ ...ctx, idmappedBindMounts: true }).mounts.find((m) => m.destination === "/data/rw")!;
    assert.ok(!noUserns.options!.some((o) => o.startsWith("idmap")));
  });
});
