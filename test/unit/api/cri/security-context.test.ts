// A CRI security context in the core's terms, as critest's specs set it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { containerSecurity } from "../../../../src/api/cri/security-context.js";
import { ALL_CAPABILITIES, DOCKER_DEFAULT_CAPABILITIES } from "../../../../src/core/container/capabilities.js";
import Long from "long";

const roots = (sc: object, privilegedPod = false) => containerSecurity(sc, privilegedPod).capabilities.root;
const asContext = (sc: object) => sc as Parameters<typeof containerSecurity>[0];

describe("a CRI security context", () => {
  it("gives Docker's default set, with what is added and dropped, names with or without CAP_", () => {
    assert.deepEqual(roots({}), DOCKER_DEFAULT_CAPABILITIES);
    const set = roots({ capabilities: { add_capabilities: ["NET_ADMIN"], drop_capabilities: ["CAP_NET_RAW"] } }) as string[];
    assert.ok(set.includes("CAP_NET_ADMIN") && !set.includes("CAP_NET_RAW"));
    assert.deepEqual(roots({ capabilities: { drop_capabilities: ["ALL"] } }), []);
    assert.deepEqual(roots({ capabilities: { drop_capabilities: ["ALL"], add_capabilities: ["CHOWN"] } }), ["CAP_CHOWN"]);
    assert.deepEqual(roots({ capabilities: { add_capabilities: ["ALL"] } }), ALL_CAPABILITIES);
    assert.ok(!(roots({ capabilities: { add_capabilities: ["ALL"], drop_capabilities: ["SYS_ADMIN"] } }) as string[]).includes("CAP_SYS_ADMIN"));
    assert.throws(() => roots({ capabilities: { add_capabilities: ["FLY"] } }), /unknown capabilities: CAP_FLY/);
  });

  it("takes supplementary groups with the image's (Merge, the default) or without them (Strict)", () => {
    const groups = [Long.fromNumber(1234)];
    assert.deepEqual(containerSecurity({ supplemental_groups: groups }, false).groups, [1234]);
    assert.equal(containerSecurity({ supplemental_groups: groups }, false).strictGroups, undefined);
    assert.equal(containerSecurity({ supplemental_groups: groups, supplemental_groups_policy: 1 }, false).strictGroups, true);
  });

  it("is privileged only in a privileged pod: every capability, no filter, no masked paths", () => {
    assert.throws(() => containerSecurity({ privileged: true }, false), /privileged pod sandbox/);
    const s = containerSecurity({ privileged: true, masked_paths: ["/proc/kcore"], seccomp: { profile_type: 2, localhost_ref: "/p.json" } }, true);
    assert.equal(s.capabilities.root, "all");
    assert.deepEqual(s.pea, { privileged: true });
  });

  it("reads seccomp as the API says: absent or Unconfined is none, RuntimeDefault the daemon's, Localhost a file", () => {
    assert.equal(containerSecurity({}, false).pea.seccomp, "unconfined");
    assert.equal(containerSecurity({ seccomp: { profile_type: 1 } }, false).pea.seccomp, "unconfined");
    assert.equal(containerSecurity({ seccomp: {} }, false).pea.seccomp, "default", "present but empty: RuntimeDefault");
    assert.deepEqual(containerSecurity({ seccomp: { profile_type: 2, localhost_ref: "/tmp/p.json" } }, false).pea.seccomp, { profilePath: "/tmp/p.json" });
    assert.throws(() => containerSecurity({ seccomp: { profile_type: 2, localhost_ref: "p.json" } }, false), /absolute path/);
    assert.equal(containerSecurity({ seccomp_profile_path: "runtime/default" }, false).pea.seccomp, "default");
    assert.deepEqual(containerSecurity({ seccomp_profile_path: "localhost//x.json" }, false).pea.seccomp, { profilePath: "/x.json" });
  });

  it("puts the container in its pod's PID and IPC namespaces, its own, or the host's", () => {
    assert.deepEqual(containerSecurity({}, false, { pid: 2, ipc: 2 }).pea, { pidNamespace: "host", ipcNamespace: "host", seccomp: "unconfined" });
    assert.equal(containerSecurity({ namespace_options: { pid: 1 } }, false).pea.pidNamespace, "own");
    assert.equal(containerSecurity({ namespace_options: { pid: 0, ipc: 0 } }, false, { pid: 2, ipc: 2 }).pea.pidNamespace, undefined, "the container's own options first");
    assert.throws(() => containerSecurity({ namespace_options: { pid: 3, target_id: "x" } }, false), /TARGET/);
  });

  it("carries the read-only root, masked and read-only paths, groups and no_new_privs", () => {
    const s = containerSecurity(asContext({ readonly_rootfs: true, masked_paths: ["/bin/ls"], readonly_paths: ["/tmp"], supplemental_groups: [1234, 5678], no_new_privs: true }), false);
    assert.deepEqual(s.pea, { readonlyRoot: true, maskedPaths: ["/bin/ls"], readonlyPaths: ["/tmp"], seccomp: "unconfined" });
    assert.deepEqual(s.groups, [1234, 5678]);
    assert.equal(s.allowPrivilegeGain, false);
    assert.equal(containerSecurity({}, false).allowPrivilegeGain, true, "Kubernetes allows privilege escalation unless told");
  });
});
