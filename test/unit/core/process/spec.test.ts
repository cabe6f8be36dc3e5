import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkProcessSpec, checkWindowSize } from "../../../../src/core/process/spec.js";

describe("process specs", () => {
  it("takes a path with arguments, env, an absolute dir, rlimits, a terminal and an output policy", () => {
    checkProcessSpec({
      id: "web-1", path: "/bin/sh", args: ["-c", "x"], env: ["A=1"], dir: "/srv", user: "alice",
      rlimits: { nofile: 1024n }, tty: { rows: 24, columns: 80 }, output: { kind: "keep-recent", limit: 10 },
    });
  });

  it("refuses what cannot be run", () => {
    for (const spec of [
      { path: "" },
      { path: "/x", id: "" },
      { path: "/x", id: "a\nb" },
      { path: "/x", args: ["a\0b"] },
      { path: "/x", dir: "relative" },
      { path: "/x", rlimits: { bogus: 1n } },
      { path: "/x", rlimits: { nofile: -1n } },
      { path: "/x", output: { kind: "kill" as const, limit: 0 } },
    ]) {
      assert.throws(() => checkProcessSpec(spec as never), { code: "INVALID_REQUEST" }, JSON.stringify(spec, (_k, v) => (typeof v === "bigint" ? String(v) : v)));
    }
  });

  it("wants a window of 0-65535 rows and columns", () => {
    checkWindowSize({ rows: 0, columns: 65535 });
    assert.throws(() => checkWindowSize({ rows: -1, columns: 1 }), { code: "INVALID_REQUEST" });
    assert.throws(() => checkWindowSize({ rows: 1, columns: 1.5 }), { code: "INVALID_REQUEST" });
  });
});
