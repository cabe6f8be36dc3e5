import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mountAt, parseMountInfo } from "../../../src/linux/mountinfo.js";
import { parseProcs } from "../../../src/linux/cgroups/cgroups.js";
import { parseSync } from "../../../src/linux/runtime/conmon.js";

describe("mountinfo", () => {
  const text = [
    "22 27 0:21 / /proc rw,relatime - proc proc rw",
    "40 30 0:35 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw",
    "90 27 0:4 mnt:[4026532] /run/warden/ns/mnt rw - nsfs nsfs rw",
    "91 27 8:1 /a\\040b /mnt/with\\040space rw - ext4 /dev/sda1 rw",
  ].join("\n");

  it("reads mount points, types and propagation", () => {
    const entries = parseMountInfo(text);
    assert.equal(entries.length, 4);
    assert.deepEqual(entries[1].optional, ["shared:9"]);
    assert.equal(mountAt(entries, "/run/warden/ns/mnt")!.fsType, "nsfs");
  });

  it("unescapes octal escapes", () => {
    assert.equal(parseMountInfo(text)[3].mountPoint, "/mnt/with space");
  });
});

describe("small parsers", () => {
  it("reads cgroup.procs", () => {
    assert.deepEqual(parseProcs("12\n345\n"), [12, 345]);
    assert.deepEqual(parseProcs(""), []);
  });

  it("reads conmon's sync messages, skipping a line still being written", () => {
    assert.deepEqual(parseSync('{"data": 2634}\n{"data": 7}\n{"da'), [{ data: 2634 }, { data: 7 }]);
    assert.deepEqual(parseSync('{"data": -1, "message": "no such container"}\n'), [
      { data: -1, message: "no such container" },
    ]);
  });
});
