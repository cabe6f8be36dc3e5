import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Container } from "../../../../src/core/container/container.js";
import { Registry } from "../../../../src/core/service/registry.js";

const c = (handle: string, state = "active") => ({ handle, state, findable: state === "active" || state === "stopped" }) as unknown as Container;

describe("registry", () => {
  it("finds containers clients may address, and refuses handles taken or reserved", () => {
    const r = new Registry();
    const a = c("a");
    r.add(a);
    r.add(c("born", "born"));
    assert.equal(r.find("a"), a);
    assert.throws(() => r.find("born"), { code: "CONTAINER_NOT_FOUND" });
    assert.throws(() => r.reserve("a"), { code: "HANDLE_TAKEN" });
    r.reserve("b");
    assert.throws(() => r.reserve("b"), { code: "HANDLE_TAKEN" });
    r.unreserve("b");
    r.reserve("b");
  });

  it("removes a container only if it is the one under its handle", () => {
    const r = new Registry();
    const old = c("x");
    const fresh = c("x");
    r.add(fresh);
    r.remove(old);
    assert.equal(r.find("x"), fresh);
    r.remove(fresh);
    assert.equal(r.size, 0);
  });
});
