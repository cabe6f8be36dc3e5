import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildBundle } from "../../../../src/linux/runtime/bundle.js";
import { peaBundle } from "../../../../src/linux/runtime/pea-bundle.js";
import type { OciProcess } from "../../../../src/linux/runtime/oci-spec.js";

describe("a pea's OCI bundle", () => {
  let etc: string;
  const container = buildBundle({
    id: "17l4t3ofu7b",
    rootfsPath: "/depot/17l4t3ofu7b/rootfs",
    bindMounts: [{ srcPath: "/host/data", dstPath: "/data", mode: "rw" }],
    cgroupParent: "warden",
    initPath: "/usr/bin/catatonit",
    namespaces: { network: "/run/netns/17l4t3ofu7b", user: "/run/userns/17l4t3ofu7b" },
    idMap: { hostId: 1_000_000_000, size: 65536 },
  });
  const process: OciProcess = { terminal: false, user: { uid: 0, gid: 0 }, args: ["/bin/sh"], env: [], cwd: "/", noNewPrivileges: true };

  before(async () => {
    etc = await mkdtemp(join(tmpdir(), "wpea-"));
    await writeFile(join(etc, "hosts"), "127.0.0.1 localhost\n");
  });
  after(() => rm(etc, { recursive: true, force: true }));

  it("joins the container's namespaces through its init, with a mount namespace of its own", () => {
    const spec = peaBundle(container, { process, rootfsPath: "/depot/x/peas/p7/rootfs", initPid: 4242, cgroupsPath: "/warden/17l4t3ofu7b/p7", etc });
    const byType = new Map(spec.linux.namespaces.map((n) => [n.type, n.path]));
    assert.equal(byType.get("mount"), undefined);
    assert.ok(byType.has("mount"));
    for (const [type, ns] of [["network", "net"], ["ipc", "ipc"], ["uts", "uts"], ["pid", "pid"], ["user", "user"]]) {
      assert.equal(byType.get(type), `/proc/4242/ns/${ns}`, type);
    }
    // Joining a user namespace, a runtime must not be asked to map ids again, nor to set a host name in a UTS namespace it joins.
    assert.equal(spec.linux.uidMappings, undefined);
    assert.equal(spec.linux.gidMappings, undefined);
    assert.equal(spec.hostname, undefined);
    assert.deepEqual(spec.root, { path: "/depot/x/peas/p7/rootfs", readonly: false });
    assert.equal(spec.process, process);
    assert.equal(spec.linux.cgroupsPath, "/warden/17l4t3ofu7b/p7");
  });

  it("keeps the container's system mounts, not its bind mounts, and binds its /etc files that exist", () => {
    const spec = peaBundle(container, { process, rootfsPath: "/r", initPid: 1, cgroupsPath: "/c", etc });
    const destinations = spec.mounts.map((m) => m.destination);
    assert.ok(destinations.includes("/proc") && destinations.includes("/dev") && destinations.includes("/sys"));
    assert.ok(!destinations.includes("/data"), "the container's bind mounts are its own");
    assert.deepEqual(spec.mounts.find((m) => m.destination === "/etc/hosts")?.source, join(etc, "hosts"));
    assert.ok(!destinations.includes("/etc/resolv.conf"), "a file the container lacks is not bound");
  });

  it("binds host paths of its own, read-only when asked, after everything else", () => {
    const spec = peaBundle(container, {
      process, rootfsPath: "/r", initPid: 1, cgroupsPath: "/c", etc,
      bindMounts: [{ srcPath: "/host/data", dstPath: "/data", mode: "ro" }, { srcPath: "/host/tmp", dstPath: "/tmp", mode: "rw" }],
    });
    assert.deepEqual(spec.mounts.slice(-2), [
      { destination: "/data", type: "bind", source: "/host/data", options: ["rbind", "ro", "rprivate"] },
      { destination: "/tmp", type: "bind", source: "/host/tmp", options: ["rbind", "rw", "rprivate"] },
    ]);
  });

  it("propagates mounts under a volume as asked, its root shared or slave to match (the runtime's default root is rslave)", () => {
    const base = { process, rootfsPath: "/r", initPid: 1, cgroupsPath: "/c", etc };
    const plain = peaBundle(container, { ...base, bindMounts: [{ srcPath: "/v", dstPath: "/v", mode: "rw" }] });
    assert.equal(plain.linux.rootfsPropagation, undefined);
    const slave = peaBundle(container, { ...base, bindMounts: [{ srcPath: "/v", dstPath: "/v", mode: "rw", propagation: "host-to-container" }] });
    assert.deepEqual(slave.mounts.at(-1)!.options, ["rbind", "rw", "rslave"]);
    assert.equal(slave.linux.rootfsPropagation, "rslave");
    const both = peaBundle(container, {
      ...base,
      bindMounts: [
        { srcPath: "/v", dstPath: "/v", mode: "rw", propagation: "host-to-container" },
        { srcPath: "/w", dstPath: "/w", mode: "rw", propagation: "bidirectional" },
      ],
    });
    assert.deepEqual(both.mounts.at(-1)!.options, ["rbind", "rw", "rshared"]);
    assert.equal(both.linux.rootfsPropagation, "rshared");
  });

  it("takes its security settings: a read-only root, its own masked and read-only paths, its own filter or none", () => {
    const withFilter = { ...container, annotations: { "run.oci.seccomp_bpf_data": "QUJD", other: "x" } };
    const own = peaBundle(withFilter, {
      process, rootfsPath: "/r", initPid: 1, cgroupsPath: "/c", etc,
      security: { readonlyRoot: true, maskedPaths: ["/bin/ls"], readonlyPaths: ["/tmp"] },
      seccomp: { defaultAction: "SCMP_ACT_ALLOW", architectures: [], syscalls: [{ names: ["chmod"], action: "SCMP_ACT_ERRNO" }] },
    });
    assert.equal(own.root.readonly, true);
    assert.deepEqual([own.linux.maskedPaths, own.linux.readonlyPaths], [["/bin/ls"], ["/tmp"]]);
    assert.equal(own.linux.seccomp?.syscalls[0].names[0], "chmod");
    assert.deepEqual(own.annotations, { other: "x" }, "the container's compiled filter goes with it");
    const none = peaBundle(withFilter, { process, rootfsPath: "/r", initPid: 1, cgroupsPath: "/c", etc, seccomp: null });
    assert.equal(none.linux.seccomp, undefined);
    assert.equal(none.annotations?.["run.oci.seccomp_bpf_data"], undefined);
    const inherited = peaBundle(withFilter, { process, rootfsPath: "/r", initPid: 1, cgroupsPath: "/c", etc });
    assert.equal(inherited.annotations?.["run.oci.seccomp_bpf_data"], "QUJD", "absent: the container's filter");
    assert.deepEqual(inherited.linux.maskedPaths, container.linux.maskedPaths);
    const privileged = peaBundle(withFilter, { process, rootfsPath: "/r", initPid: 1, cgroupsPath: "/c", etc, security: { privileged: true } });
    assert.deepEqual([privileged.linux.maskedPaths, privileged.linux.readonlyPaths, privileged.linux.seccomp], [[], [], undefined]);

  });

  it("leaves the container's kernel parameters to the container, which set them in its namespaces", () => {
    const spec = peaBundle({ ...container, linux: { ...container.linux, sysctl: { "kernel.shm_rmid_forced": "1" } } }, { process, rootfsPath: "/r", initPid: 1, cgroupsPath: "/c", etc });
    assert.equal(spec.linux.sysctl, undefined);
  });

  it("leaves the container's PID or IPC namespace for the host's, or for a PID namespace of its own", () => {
    const types = (security: object) =>
      peaBundle(container, { process, rootfsPath: "/r", initPid: 7, cgroupsPath: "/c", etc, security }).linux.namespaces.map((n) => `${n.type}${n.path ? "@" : ""}`);
    assert.ok(types({}).includes("pid@") && types({}).includes("ipc@"));
    assert.ok(!types({ pidNamespace: "host" }).some((t) => t.startsWith("pid")));
    assert.ok(!types({ ipcNamespace: "host" }).some((t) => t.startsWith("ipc")));
    assert.ok(types({ pidNamespace: "own" }).includes("pid") && !types({ pidNamespace: "own" }).includes("pid@"));
  });

  it("sets limits of its own only when given, and keeps the container's device rules", () => {
    const shared = peaBundle(container, { process, rootfsPath: "/r", initPid: 1, cgroupsPath: "/c", etc });
    const own = peaBundle(container, { process, rootfsPath: "/r", initPid: 1, cgroupsPath: "/c", etc, limits: { memoryBytes: 1n << 25n, cpuShares: 512n } });
    const resources = (s: typeof own) => s.linux.resources as Record<string, unknown>;
    assert.equal(resources(shared).memory, undefined);
    assert.deepEqual([resources(own).memory, resources(own).cpu], [{ limit: 1n << 25n }, { shares: 512n }]);
    assert.deepEqual(own.linux.resources.devices, container.linux.resources.devices);
    const device = { path: "/dev/x", type: "c" as const, major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0, access: "r" };
    const withDevice = peaBundle(container, { process, rootfsPath: "/r", initPid: 1, cgroupsPath: "/c", etc, devices: [device] });
    assert.deepEqual(withDevice.linux.devices.at(-1), { path: "/dev/x", type: "c", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 });
    assert.deepEqual(withDevice.linux.resources.devices.at(-1), { allow: true, type: "c", major: 1, minor: 5, access: "r" }, "allowed after the container's rules");
    const capped = peaBundle(container, { process, rootfsPath: "/r", initPid: 1, cgroupsPath: "/c", etc, limits: { cpuQuota: 20000n, cpusetCpus: "0", cpusetMems: "0" } });
    assert.deepEqual(resources(capped).cpu, { quota: 20000n, period: 100000n, cpus: "0", mems: "0" }, "a quota with the kernel's default period");
  });
});
