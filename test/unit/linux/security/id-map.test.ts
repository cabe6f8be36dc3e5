import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bindMountIdmapOption, hostIdOf, UNMAPPED_OWNER } from "../../../../src/linux/security/id-map.js";

describe("user namespace ids", () => {
  const map = { hostId: 1_000_000_000, size: 65536 };

  it("maps container ids into the range, and is the identity without a namespace", () => {
    assert.equal(hostIdOf(map, 0), 1_000_000_000);
    assert.equal(hostIdOf(map, 10000), 1_000_010_000);
    assert.equal(hostIdOf(undefined, 10000), 10000);
    assert.throws(() => hostIdOf(map, 65536), RangeError);
  });

  it("maps a bind mount: host root to an id outside every container, host ids above 0 to themselves, container root to its own", () => {
    const ranges = `0-${UNMAPPED_OWNER}-1#1-1000000001-65535#1000000000-1000000000-1`;
    assert.equal(bindMountIdmapOption(map), `idmap=uids=${ranges};gids=${ranges}`);
    assert.ok(UNMAPPED_OWNER < map.hostId, "not an id of the containers' namespace");
  });
});
