// Garden's JSON to the core's terms: specs, rules, and what goes back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gardenError } from "../../../../src/api/garden/errors.js";
import { exitStatus } from "../../../../src/api/garden/processes.js";
import { containerSpec, containerSpecSchema, infoJson, jsonText, netOutRules, parse, processSpec, processSpecSchema, rootfsOf } from "../../../../src/api/garden/wire.js";
import { errors } from "../../../../src/core/errors.js";

describe("Garden wire", () => {
  it("maps a whole ContainerSpec: grace time in ns, image with credentials, bind mounts, limits, rules", () => {
    const wire = parse(containerSpecSchema, {
      handle: "h",
      grace_time: 30_000_000_000,
      image: { uri: "docker:///busybox#1.37.0", username: "u", password: "p" },
      bind_mounts: [{ src_path: "/a", dst_path: "/b" }, { src_path: "/c", dst_path: "/d", mode: 1 }],
      network: "10.254.0.8/30",
      properties: { k: "v" },
      env: ["A=1"],
      limits: { memory_limits: { limit_in_bytes: 1048576 }, cpu_limits: { weight: 512 }, bandwidth_limits: { rate: 100, burst: 200 }, disk_limits: { byte_hard: 5000 } },
      netout_rules: [{ protocol: 1, networks: [{ start: "10.0.0.1", end: "10.0.0.9" }, { start: "8.8.8.8" }], ports: [{ start: 80, end: 81 }] }],
      netin: [{ host_port: 8080, container_port: 80 }],
    }, "container spec");
    const { spec, privileged } = containerSpec(wire, { graceTimeSeconds: 300 });
    assert.equal(privileged, false);
    assert.equal(spec.graceTime, 30);
    assert.equal(spec.rootfs, "docker:///busybox#1.37.0");
    assert.deepEqual(spec.imageCredentials, { username: "u", password: "p" });
    assert.deepEqual(spec.bindMounts, [{ srcPath: "/a", dstPath: "/b", mode: "ro" }, { srcPath: "/c", dstPath: "/d", mode: "rw" }]);
    assert.equal(spec.network, "10.254.0.8");
    assert.deepEqual(spec.limits, { memoryBytes: 1048576n, cpuShares: 512n, bandwidth: { rate: 100, burst: 200 }, disk: { byteSoft: 0n, byteHard: 5000n, inodeSoft: 0n, inodeHard: 0n }, diskScope: "total" });
    assert.equal(spec.netOut!.length, 2, "one core rule per network and port range");
    assert.deepEqual(spec.netOut![0], { protocol: "tcp", log: false, network: { kind: "range", start: "10.0.0.1", end: "10.0.0.9" }, ports: { from: 80, to: 81 } });
    assert.deepEqual(spec.netOut![1].network, { kind: "address", address: "8.8.8.8" });
    assert.deepEqual(spec.netIn, [{ hostPort: 8080, containerPort: 80 }]);
    assert.equal(containerSpec(parse(containerSpecSchema, {}, "x"), { graceTimeSeconds: null }).spec.graceTime, null, "0: the daemon's default");
  });

  it("says which field is wrong, and refuses what the core cannot do", () => {
    assert.throws(() => parse(containerSpecSchema, { grace_time: "soon" }, "container spec"), { code: "INVALID_REQUEST", message: /container spec: grace_time:/ });
    assert.throws(() => parse(containerSpecSchema, { bind_mounts: [{ mode: 7 }] }, "container spec"), /bind_mounts\.0\.mode/);
    assert.throws(() => containerSpec(parse(containerSpecSchema, { bind_mounts: [{ src_path: "/x", dst_path: "/y", origin: 1 }] }, "s"), { graceTimeSeconds: 1 }), /origin Container/);
    assert.throws(() => containerSpec(parse(containerSpecSchema, { network: "10.1.0.0/24" }, "s"), { graceTimeSeconds: 1 }), /only \/30/);
    assert.throws(() => processSpec(parse(processSpecSchema, { path: "x", image: { uri: "/r" }, bind_mounts: [{ src_path: "/a" }] }, "p")), /pea/);
    const pea = processSpec(parse(processSpecSchema, { path: "x", image: { uri: "/r" }, limits: { memory_limits: { limit_in_bytes: 33554432 } } }, "p"));
    assert.deepEqual([pea.image, pea.limits], ["/r", { memoryBytes: 33554432n }], "a pea, with limits of its own");
    assert.deepEqual(processSpec(parse(processSpecSchema, { path: "x", image: { uri: "/r" }, limits: {} }, "p")).limits, {}, "empty limits: its own cgroup all the same");
    assert.equal(processSpec(parse(processSpecSchema, { path: "x", image: { uri: "/r" } }, "p")).limits, undefined);
  });

  it("takes image URIs and paths as Garden does", () => {
    assert.equal(rootfsOf({}), undefined);
    assert.equal(rootfsOf({ image: { uri: "" }, rootfs: "/old" }), "/old");
    assert.equal(rootfsOf({ image: { uri: "raw:///some/dir" } }), "/some/dir");
    assert.equal(rootfsOf({ image: { uri: "/a/b" } }), "/a/b");
  });

  it("maps a ProcessSpec with a stdin stream, a terminal and rlimits", () => {
    const spec = processSpec(parse(processSpecSchema, { id: "p1", path: "sh", args: ["-c", "x"], user: "alice", dir: "/w", rlimits: { nofile: 64 }, tty: { window_size: { columns: 100, rows: 30 } } }, "p"));
    assert.deepEqual(spec, { id: "p1", path: "sh", args: ["-c", "x"], env: [], dir: "/w", user: "alice", rlimits: { nofile: 64n }, tty: { columns: 100, rows: 30 }, stdin: { kind: "stream" } });
  });

  it("answers exit by signal as 128 + N, and ICMP rules with type and code", () => {
    assert.equal(exitStatus({ kind: "exited", code: 3 }), 3);
    assert.equal(exitStatus({ kind: "signaled", signal: 15 }), 143);
    assert.deepEqual(netOutRules({ protocol: 3, icmps: { type: 8, code: 0 } }), [{ protocol: "icmp", log: false, icmpType: 8, icmpCode: 0 }]);
    assert.deepEqual(netOutRules({}), [{ protocol: "all", log: false }]);
  });

  it("writes Info with Go's field names and big numbers exactly", () => {
    const info = infoJson(
      { handle: "h", id: "i", state: "active", events: ["out-of-memory"], network: { subnet: "10.254.0.0/30", hostIp: "10.254.0.1", containerIp: "10.254.0.2" }, path: "/d/i", rootfs: "/r", processIds: ["1"], properties: { a: "b" }, graceTime: null, netIns: [{ hostPort: 61001, containerPort: 8080 }], createdAt: 0 },
      "127.0.0.1",
    );
    assert.deepEqual(info, { State: "active", Events: ["oom"], HostIP: "10.254.0.1", ContainerIP: "10.254.0.2", ExternalIP: "127.0.0.1", ContainerPath: "/d/i", ProcessIDs: ["1"], Properties: { a: "b" }, MappedPorts: [{ HostPort: 61001, ContainerPort: 8080 }] });
    assert.equal(jsonText({ n: 18446744073709551615n }), '{"n":18446744073709551615}');
  });

  it("gives Garden's error types and statuses", () => {
    assert.deepEqual(gardenError(errors.containerNotFound("x")), { status: 404, body: { Type: "ContainerNotFoundError", Message: "unknown handle: x", Handle: "x", ProcessID: "", Binary: "" } });
    assert.equal(gardenError(errors.processNotFound("7")).body.Type, "ProcessNotFoundError");
    assert.equal(gardenError(errors.userNotFound("invalid-user")).body.Message, "unable to find user invalid-user: no matching entries in passwd file");
    assert.equal(gardenError(errors.executableNotFound("/x")).body.Type, "ExecutableNotFoundError");
    assert.deepEqual(gardenError(errors.userNotFound("bob")), { status: 500, body: { Type: "", Message: "unable to find user bob: no matching entries in passwd file", Handle: "", ProcessID: "", Binary: "" } });
  });
});
