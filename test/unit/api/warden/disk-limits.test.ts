import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyDiskRequest, diskLimitFields } from "../../../../src/api/warden/disk-limits.js";

const none = { byteSoft: 0n, byteHard: 0n, inodeSoft: 0n, inodeHard: 0n };

describe("LimitDisk arithmetic", () => {
  it("rounds bytes up to 1024-byte blocks", () => {
    assert.equal(applyDiskRequest(none, { byte: 1n }).byteHard, 1024n);
    assert.equal(applyDiskRequest(none, { byteHard: 2048n }).byteHard, 2048n);
  });

  it("treats byte_limit and byte as byte_hard, byte_hard last", () => {
    assert.equal(applyDiskRequest(none, { byteLimit: 1024n, byte: 2048n }).byteHard, 2048n);
    assert.equal(applyDiskRequest(none, { byte: 2048n, byteHard: 4096n }).byteHard, 4096n);
  });

  it("lets block fields override byte fields", () => {
    assert.equal(applyDiskRequest(none, { byteHard: 1_000_000n, block: 10n }).byteHard, 10240n);
    assert.equal(applyDiskRequest(none, { byteSoft: 1_000_000n, blockSoft: 5n }).byteSoft, 5120n);
  });

  it("keeps what the request does not name", () => {
    const current = { byteSoft: 1024n, byteHard: 4096n, inodeSoft: 10n, inodeHard: 20n };
    assert.deepEqual(applyDiskRequest(current, { inode: 30n }), { ...current, inodeHard: 30n });
  });

  it("answers all twelve fields, blocks of 1024 bytes", () => {
    assert.deepEqual(diskLimitFields({ byteSoft: 0n, byteHard: 10240n, inodeSoft: 1n, inodeHard: 2n }), {
      blockLimit: 10n, block: 10n, blockSoft: 0n, blockHard: 10n,
      inodeLimit: 2n, inode: 2n, inodeSoft: 1n, inodeHard: 2n,
      byteLimit: 10240n, byte: 10240n, byteSoft: 0n, byteHard: 10240n,
    });
  });
});
