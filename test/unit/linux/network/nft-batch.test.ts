import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NftBatcher } from "../../../../src/linux/network/nft-batch.js";

describe("nft batches", () => {
  it("sends scripts asked for together as one transaction, in order", async () => {
    const applied: string[] = [];
    const b = new NftBatcher(async (s) => applied.push(s));
    await Promise.all([b.run("add a\n"), b.run("add b\n"), b.run("add c\n")]);
    assert.deepEqual(applied, ["add a\nadd b\nadd c\n"]);
    await b.run("add d\n");
    assert.deepEqual(applied.at(-1), "add d\n", "alone, a script goes alone");
  });

  it("tries each script alone when the batch fails, so only the bad one fails", async () => {
    const applied: string[] = [];
    const b = new NftBatcher(async (s) => {
      if (s.includes("bad")) throw new Error(`refused: ${s.trim()}`);
      applied.push(s);
    });
    const results = await Promise.allSettled([b.run("add a\n"), b.run("bad\n"), b.run("add c\n")]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled"],
    );
    assert.match(String((results[1] as PromiseRejectedResult).reason), /refused: bad/);
    assert.deepEqual(applied, ["add a\n", "add c\n"]);
  });
});
