import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkEnv, completeEnv, mergeEnv } from "../../../../src/core/process/environment.js";

describe("process environment", () => {
  it("merges layers key by key, later ones winning, in order of first appearance", () => {
    assert.deepEqual(mergeEnv(["A=1", "B=2"], ["B=3", "C=4"], ["A="]), ["A=", "B=3", "C=4"]);
    assert.deepEqual(mergeEnv(["X=a=b"], []), ["X=a=b"], "only the first = splits");
  });

  it("adds HOME, USER and PATH for the user where they are missing", () => {
    const user = { name: "alice", uid: 1001, gid: 1001, groups: [], home: "/home/alice" };
    assert.deepEqual(completeEnv(["PATH=/mine"], user), ["HOME=/home/alice", "USER=alice", "PATH=/mine"]);
    assert.ok(completeEnv([], { ...user, uid: 0 }).includes("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
  });

  it("wants KEY=VALUE without NUL", () => {
    checkEnv(["A=", "B=c"]);
    for (const bad of [["A"], ["=x"], ["A=\0"]]) assert.throws(() => checkEnv(bad), { code: "INVALID_REQUEST" });
  });
});
