import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { initProcessSpec } from "../../../../src/linux/runtime/init-process-spec.js";

describe("the init's process spec", () => {
  it("writes NUL-terminated entries, arrays as repeated keys, capability sets as masks and rlimits by number", () => {
    const text = initProcessSpec({
      terminal: false,
      user: { uid: 1, gid: 2, additionalGids: [3, 4] },
      args: ["/bin/sh", "-c", "a=b"],
      env: ["A=1=2"],
      cwd: "/w",
      capabilities: { bounding: ["CAP_CHOWN", "CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"], inheritable: [], ambient: [] },
      rlimits: [{ type: "RLIMIT_NOFILE", soft: 10n, hard: 2n ** 64n - 1n }],
      noNewPrivileges: true,
    }).toString();
    assert.deepEqual(text.split("\0"), [
      "arg=/bin/sh", "arg=-c", "arg=a=b", "env=A=1=2", "cwd=/w", "nnp=1", "uid=1", "gid=2", "group=3", "group=4",
      "cap.bounding=21", "cap.effective=20", "cap.permitted=20", "cap.inheritable=0", "cap.ambient=0",
      "rlimit=7 10 18446744073709551615", "",
    ]);
  });

  it("refuses what the format cannot carry", () => {
    const base = { terminal: false, user: { uid: 0, gid: 0 }, args: ["x"], env: [], cwd: "/" };
    assert.throws(() => initProcessSpec({ ...base, args: ["a\0b"] }), /NUL/);
    assert.throws(() => initProcessSpec({ ...base, capabilities: { bounding: ["CAP_NOPE"], effective: [], permitted: [], inheritable: [], ambient: [] } }), /CAP_NOPE/);
  });
});
