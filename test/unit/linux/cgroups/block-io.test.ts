import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { named, parseBlkioV1, parseIoStat } from "../../../../src/linux/cgroups/block-io.js";

describe("block I/O of a cgroup", () => {
  it("reads cgroup v1's per-device Read and Write lines, leaving out the totals", () => {
    const bytes = "8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\n253:1 Read 0\n253:1 Write 512\nTotal 4608\n";
    const ops = "8:0 Read 2\n8:0 Write 0\n253:1 Write 1\nTotal 3\n";
    assert.deepEqual(parseBlkioV1(bytes, ops), [
      { major: 8, minor: 0, readBytes: 4096n, writeBytes: 0n, reads: 2n, writes: 0n },
      { major: 253, minor: 1, readBytes: 0n, writeBytes: 512n, reads: 0n, writes: 1n },
    ]);
    assert.deepEqual(parseBlkioV1("", ""), []);
  });

  it("reads cgroup v2's io.stat", () => {
    assert.deepEqual(parseIoStat("8:16 rbytes=1024 wbytes=2048 rios=1 wios=2 dbytes=0 dios=0\n"), [
      { major: 8, minor: 16, readBytes: 1024n, writeBytes: 2048n, reads: 1n, writes: 2n },
    ]);
  });

  it("names each device as /dev has it, or not at all when /sys does not know it", async () => {
    const sys = await mkdtemp(join(tmpdir(), "wsys-"));
    try {
      await mkdir(join(sys, "dev", "block"), { recursive: true });
      await symlink("../../devices/virtual/block/vda", join(sys, "dev", "block", "254:0"));
      const counts = { readBytes: 0n, writeBytes: 0n, reads: 0n, writes: 0n };
      const found = await named([{ major: 254, minor: 0, ...counts }, { major: 7, minor: 9, ...counts }], sys);
      assert.deepEqual(found.map((d) => d.device), ["/dev/vda", ""]);
    } finally {
      await rm(sys, { recursive: true, force: true });
    }
  });
});
