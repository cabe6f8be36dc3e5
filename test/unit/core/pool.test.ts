import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Pool, type Clock } from "../../../src/core/pool.js";

function clock(): Clock & { t: number } {
  return { t: 0, now() { return this.t; } };
}

describe("pool", () => {
  it("hands out items first in, first out", () => {
    const pool = new Pool([1, 2, 3]);
    assert.deepEqual([pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()], [1, 2, 3, undefined]);
  });

  it("returns released items at the tail", () => {
    const pool = new Pool([1, 2, 3]);
    const a = pool.acquire()!;
    pool.release(a);
    assert.deepEqual([pool.acquire(), pool.acquire(), pool.acquire()], [2, 3, 1]);
  });

  it("holds a released item back for the release delay", () => {
    const c = clock();
    const pool = new Pool(["a"], 5000, c);
    pool.release(pool.acquire()!);
    assert.equal(pool.acquire(), undefined);
    c.t = 4999;
    assert.equal(pool.acquire(), undefined);
    c.t = 5000;
    assert.equal(pool.acquire(), "a");
  });

  it("acquires a given item only when it is free", () => {
    const pool = new Pool([10, 20]);
    assert.equal(pool.acquireSpecific(20), true);
    assert.equal(pool.acquireSpecific(20), false);
    assert.equal(pool.acquireSpecific(30), false);
    assert.equal(pool.acquire(), 10);
  });

  it("ignores the release of an item it did not hand out", () => {
    const pool = new Pool([1]);
    pool.release(1);
    pool.release(7);
    assert.equal(pool.available, 1);
  });
});
