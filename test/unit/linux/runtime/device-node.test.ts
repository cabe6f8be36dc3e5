// Host device nodes as a pea gets them: type and numbers as the host has them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deviceNode } from "../../../../src/linux/runtime/device-node.js";

describe("a pea's device nodes", () => {
  it("reads a host device's type and numbers (/dev/null is c 1:3), at the pea's path with its access", async () => {
    assert.deepEqual(await deviceNode({ hostPath: "/dev/null", containerPath: "/dev/mynull", permissions: "rw" }), {
      path: "/dev/mynull", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0, access: "rw",
    });
  });

  it("refuses what is no device node", async () => {
    await assert.rejects(deviceNode({ hostPath: "/etc/hostname", containerPath: "/dev/x", permissions: "r" }), { code: "INVALID_REQUEST", message: /no device node/ });
    await assert.rejects(deviceNode({ hostPath: "/nope", containerPath: "/dev/x", permissions: "r" }), { code: "INVALID_REQUEST" });
  });
});
