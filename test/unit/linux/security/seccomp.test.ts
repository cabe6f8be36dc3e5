import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveProfile, SeccompProfileError, type Target } from "../../../../src/linux/security/seccomp.js";

// The shape of containers-common's seccomp.json, cut down.
const profile = {
  defaultAction: "SCMP_ACT_ERRNO",
  defaultErrnoRet: 38,
  archMap: [
    { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
    { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
  ],
  syscalls: [
    { names: ["read", "write"], action: "SCMP_ACT_ALLOW", args: [], comment: "", includes: {}, excludes: {} },
    { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 8, valueTwo: 0, op: "SCMP_CMP_EQ" }] },
    { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64", "x32"] } },
    { names: ["arm_fadvise64_64"], action: "SCMP_ACT_ALLOW", includes: { arches: ["arm", "arm64"] } },
    { names: ["mount", "setns"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
    { names: ["mount", "setns"], action: "SCMP_ACT_ERRNO", errnoRet: 1, excludes: { caps: ["CAP_SYS_ADMIN"] } },
    { names: ["chroot"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_CHROOT"] } },
    { names: ["futex_waitv"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "5.16" } },
  ],
};

const root: Target = { arch: "amd64", kernel: "6.1.0-13-amd64", capabilities: ["CAP_CHOWN", "CAP_SYS_CHROOT"] };

describe("seccomp profile", () => {
  const filter = resolveProfile(profile, root);
  const names = filter.syscalls.flatMap((r) => r.names.map((n) => `${n}:${r.action}`));

  it("keeps the default action and its errno, and lists the architecture with its sub-architectures", () => {
    assert.equal(filter.defaultAction, "SCMP_ACT_ERRNO");
    assert.equal(filter.defaultErrnoRet, 38);
    assert.deepEqual(filter.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
  });

  it("keeps plain rules with their argument conditions, without the profile's own fields", () => {
    assert.deepEqual(filter.syscalls[0], { names: ["read", "write"], action: "SCMP_ACT_ALLOW" });
    assert.deepEqual(filter.syscalls[1].args, [{ index: 0, value: 8, valueTwo: 0, op: "SCMP_CMP_EQ" }]);
  });

  it("keeps rules for this architecture only", () => {
    assert.ok(names.includes("arch_prctl:SCMP_ACT_ALLOW"));
    assert.ok(!names.includes("arm_fadvise64_64:SCMP_ACT_ALLOW"));
    const arm = resolveProfile(profile, { ...root, arch: "arm64" });
    assert.deepEqual(arm.architectures, ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    assert.ok(arm.syscalls.some((r) => r.names.includes("arm_fadvise64_64")));
  });

  it("allows what needs a capability only when jobs can hold it, and refuses it with EPERM otherwise", () => {
    assert.ok(names.includes("chroot:SCMP_ACT_ALLOW"));
    assert.ok(!names.includes("mount:SCMP_ACT_ALLOW"));
    const refused = filter.syscalls.find((r) => r.names.includes("mount"))!;
    assert.deepEqual(refused, { names: ["mount", "setns"], action: "SCMP_ACT_ERRNO", errnoRet: 1 });
  });

  it("compares kernel versions numerically", () => {
    assert.ok(names.includes("futex_waitv:SCMP_ACT_ALLOW"));
    const old = resolveProfile(profile, { ...root, kernel: "5.9.0" });
    assert.ok(!old.syscalls.some((r) => r.names.includes("futex_waitv")));
  });

  it("takes unshare and clone out of the profile's blanket allow: no new namespaces without CAP_SYS_ADMIN", () => {
    const podman = { ...profile, syscalls: [...profile.syscalls, { names: ["clone", "clone3", "unshare", "getpid"], action: "SCMP_ACT_ALLOW" }] };
    const rules = resolveProfile(podman, root).syscalls;
    assert.ok(rules.some((r) => r.names.includes("getpid") && !r.names.includes("unshare")), "the rest of the rule stays");
    const allow = rules.find((r) => r.names.includes("unshare") && r.action === "SCMP_ACT_ALLOW")!;
    assert.deepEqual(allow.args, [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }], "allowed without any namespace flag");
    const userns = rules.find((r) => r.names.includes("clone") && r.action === "SCMP_ACT_ERRNO")!;
    assert.deepEqual([userns.errnoRet, userns.args![0].value, userns.args![0].valueTwo], [1, 0x10000000, 0x10000000], "EPERM for a user namespace");
    assert.equal(rules.find((r) => r.names.includes("clone3"))!.errnoRet, 38, "clone3: ENOSYS, so libc uses clone");
    const admin = resolveProfile(podman, { ...root, capabilities: ["CAP_SYS_ADMIN"] }).syscalls;
    assert.ok(admin.some((r) => r.names.includes("unshare") && r.action === "SCMP_ACT_ALLOW" && !r.args), "CAP_SYS_ADMIN keeps the profile's rule");
  });

  it("refuses what is not a profile", () => {
    assert.throws(() => resolveProfile({ syscalls: [] }, root), SeccompProfileError);
    assert.throws(() => resolveProfile({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"] }] }, root), SeccompProfileError);
  });
});
