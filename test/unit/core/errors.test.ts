import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { asCoreError, CoreError, errors } from "../../../src/core/errors.js";

describe("core errors", () => {
  it("carry a stable code, structured details, what a tool said, and their cause", () => {
    const cause = new Error("EBUSY");
    const err = errors.limitFailed("setting memory limit", cause);
    assert.ok(err instanceof CoreError);
    assert.deepEqual([err.code, err.details.operation, err.cause], ["LIMIT_FAILED", "setting memory limit", cause]);
    const failed = errors.commandFailed("crun: oops", cause);
    assert.deepEqual([failed.detail, failed.cause], ["crun: oops", cause]);
  });

  it("report every failed step of a destroy, and what their tools said", () => {
    const err = errors.destroyFailed("h", [
      { step: "network", error: errors.commandFailed("ip: busy") },
      { step: "unmount", error: errors.internal("target is busy") },
    ]);
    assert.equal(err.code, "DESTROY_FAILED");
    assert.match(err.message, /network: .*; unmount: target is busy/);
    assert.equal(err.detail, "ip: busy");
    assert.equal((err.cause as AggregateError).errors.length, 2);
  });

  it("turn anything else into INTERNAL, keeping it as the cause", () => {
    const bug = new TypeError("x is undefined");
    const err = asCoreError(bug);
    assert.deepEqual([err.code, err.message, err.cause], ["INTERNAL", "x is undefined", bug]);
    const same = errors.userNotFound("bob");
    assert.equal(asCoreError(same), same);
  });
});
