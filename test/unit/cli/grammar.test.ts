import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Long from "long";
import { commandFor, formatResponse, missingRequired, parseFlags, requestType, responseType } from "../../../src/cli/grammar.js";
import { warden } from "../../../src/protocol/messages.js";

describe("cli grammar", () => {
  it("maps snake_case commands to message types", () => {
    assert.equal(commandFor("limit_memory"), "LimitMemory");
    assert.equal(commandFor("net_in"), "NetIn");
    assert.throws(() => commandFor("creat"), { message: "Command: 'creat' is non-existent." });
  });

  it("reads fields, booleans without values, enums by name, nested and repeated fields", () => {
    const req = parseFlags("Create", [
      "--handle", "h",
      "--grace_time", "30",
      "--bind_mounts[0].src_path", "/a",
      "--bind_mounts[0].dst_path", "/b",
      "--bind_mounts[0].mode", "RW",
      "--bind_mounts[1].src_path", "/c",
    ]);
    assert.deepEqual(req, {
      handle: "h",
      grace_time: 30,
      bind_mounts: [{ src_path: "/a", dst_path: "/b", mode: 1 }, { src_path: "/c" }],
    });
    const run = parseFlags("Run", ["--handle", "h", "--privileged", "--script", "echo", "--rlimits.nofile", "1234"]);
    assert.equal(run.privileged, true);
    assert.ok(Long.isLong((run.rlimits as { nofile: Long }).nofile));
  });

  it("lets a later flag overwrite an earlier one", () => {
    assert.deepEqual(parseFlags("Echo", ["--message", "a", "--message", "b"]), { message: "b" });
  });

  it("says what is wrong with a flag in Warden's words", () => {
    assert.throws(() => parseFlags("Info", ["handle"]), { message: "Invalid flag: 'handle'." });
    assert.throws(() => parseFlags("Info", ["--hndle", "x"]), { message: "In flag: '--hndle', the field: 'hndle' is invalid." });
    assert.throws(() => parseFlags("Create", ["--bind_mounts.src_path", "/a"]), {
      message: "In flag: '--bind_mounts.src_path', the field: 'bind_mounts' is not indexed.",
    });
    assert.throws(() => parseFlags("Create", ["--bind_mounts[3].src_path", "/a"]), /is not indexed correctly/);
    assert.throws(() => parseFlags("Create", ["--handle[0]", "x"]), /is not indexed correctly/);
    assert.throws(() => parseFlags("Create", ["--bind_mounts[x].src_path", "/a"]), /Invalid flag element/);
    assert.throws(() => parseFlags("Create", ["--bind_mounts[0].mode", "XX"]), /'XX' is not one of RO, RW/);
    assert.throws(() => parseFlags("Create", ["--grace_time", "soon"]), /'soon' is not an integer/);
  });

  it("finds a missing required field at any depth", () => {
    assert.equal(missingRequired(requestType("Info"), {}), "handle");
    assert.equal(missingRequired(requestType("Create"), { bind_mounts: [{ src_path: "/a", mode: 0 }] }), "bind_mounts[0].dst_path");
    assert.equal(missingRequired(requestType("Create"), {}), undefined);
  });

  it("prints fields on the wire as `field : value`, nested flattened and repeated indexed", () => {
    const info = warden.InfoResponse.decode(
      warden.InfoResponse.encode({ state: "active", events: ["a", "b"], cpu_stat: { usage: Long.fromNumber(5, true) } }).finish(),
    );
    assert.deepEqual(formatResponse(responseType("Info"), info), [
      "state : active",
      "events[0] : a",
      "events[1] : b",
      "cpu_stat.usage : 5",
    ]);
    const list = warden.ListResponse.decode(warden.ListResponse.encode({ handles: ["h1"] }).finish());
    assert.deepEqual(formatResponse(responseType("List"), list), ["handles[0] : h1"]);
  });
});
