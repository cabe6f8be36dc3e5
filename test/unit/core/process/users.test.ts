import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkUserSpec, parseGroup, parsePasswd, resolveUser } from "../../../../src/core/process/users.js";

const passwd = "root:x:0:0:root:/root:/bin/sh\n# a comment\nalice:x:1001:100::/home/alice:/bin/sh\nbroken line\nbob:x:1002:1002::::\n";
const group = "root:x:0:\nusers:x:100:\nstaff:x:50:alice,bob\nwheel:x:10:alice\nbob:x:1002:\n";

describe("container users", () => {
  it("reads passwd and group, skipping what is not an entry", () => {
    assert.deepEqual(parsePasswd(passwd).map((p) => p.name), ["root", "alice", "bob"]);
    assert.deepEqual(parseGroup(group).find((g) => g.name === "staff")!.members, ["alice", "bob"]);
  });

  it("finds a user by name or uid, with their primary group and the groups that list them (as initgroups)", () => {
    assert.deepEqual(resolveUser("alice", passwd, group), { name: "alice", uid: 1001, gid: 100, groups: [100, 50, 10], home: "/home/alice" });
    assert.deepEqual(resolveUser("1002", passwd, group), { name: "bob", uid: 1002, gid: 1002, groups: [1002, 50], home: "/" });
  });

  it("knows root without an account file, in the groups that list root", () => {
    assert.deepEqual(resolveUser("root", "", "wheel:x:10:root\n"), { name: "root", uid: 0, gid: 0, groups: [10], home: "/root" });
    assert.deepEqual(resolveUser("root", "root:x:0:0:root:/root:/bin/sh\n", "root:x:0:\nwheel:x:10:root\n").groups, [0, 10]);
  });

  it("takes uid:gid and name:group, a group by name too", () => {
    assert.deepEqual(resolveUser("1001:0", passwd, group).gid, 0);
    assert.deepEqual(resolveUser("alice:staff", passwd, group), { name: "alice", uid: 1001, gid: 50, groups: [50, 10], home: "/home/alice" });
  });

  it("runs an unknown uid with gid 0 and / as home, as Docker does", () => {
    assert.deepEqual(resolveUser("4242", passwd, group), { name: "4242", uid: 4242, gid: 0, groups: [], home: "/" });
    assert.deepEqual(resolveUser("4242:7", passwd, group).gid, 7);
  });

  it("names a user or group it cannot find", () => {
    assert.throws(() => resolveUser("mallory", passwd, group), { code: "USER_NOT_FOUND", message: "unable to find user mallory" });
    assert.throws(() => resolveUser("alice:nogroup", passwd, group), { code: "USER_NOT_FOUND" });
  });

  it("refuses what is not a user spec", () => {
    for (const bad of ["", ":", "a:", ":b", "a:b:c", "a b", "a\0"]) assert.throws(() => checkUserSpec(bad), { code: "INVALID_REQUEST" }, bad);
  });
});
