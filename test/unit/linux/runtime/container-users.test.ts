import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ContainerUsers } from "../../../../src/linux/runtime/container-users.js";
import { RecordingRunner } from "../../../fakes/commands.js";

const files = (dir: "present" | "missing") =>
  `root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n\n--- warden ---\nalice:x:1001:\nstaff:x:50:alice\n\n--- warden ---\n${dir}\n`;

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A /proc where the container's init (4242 or 7) is in a user namespace of its own, or in the daemon's. */
function proc(ownUserNamespace: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), "wproc-"));
  made.push(dir);
  for (const [who, ns] of [["self", "user:[4026531837]"], ["4242", ownUserNamespace ? "user:[4026532999]" : "user:[4026531837]"], ["7", ownUserNamespace ? "user:[4026532998]" : "user:[4026531837]"]]) {
    mkdirSync(join(dir, who, "ns"), { recursive: true });
    symlinkSync(ns, join(dir, who, "ns/user"));
  }
  return dir;
}

describe("users of a running container", () => {
  it("reads the account files inside the container's user and mount namespaces, with its own busybox", async () => {
    const commands = new RecordingRunner().on("nsenter", { stdout: files("present") });
    const users = new ContainerUsers(commands, async () => 4242, proc(true));
    assert.deepEqual(await users.resolve("c", "alice"), { name: "alice", uid: 1001, gid: 1001, groups: [1001, 50], home: "/home/alice" });
    const [call] = commands.calls;
    assert.deepEqual(call.argv.slice(0, 7), ["nsenter", "-t", "4242", "-U", "-m", "--", "/dev/.warden/busybox"]);
    assert.deepEqual(call.argv.slice(7, 9), ["sh", "-c"]);
    assert.deepEqual(call.argv.slice(10), ["sh", ""]);
    assert.equal(commands.calls.length, 1, "nothing is made for a lookup without a working directory");
  });

  it("enters no user namespace when the container has none (privileged, or a daemon without them)", async () => {
    const commands = new RecordingRunner().on("nsenter", { stdout: files("present") });
    await new ContainerUsers(commands, async () => 7, proc(false)).resolve("c", "root");
    assert.deepEqual(commands.calls[0].argv.slice(0, 5), ["nsenter", "-t", "7", "-m", "--"]);
  });

  it("makes a missing working directory as the user's, and their home when none is given", async () => {
    const commands = new RecordingRunner().on("nsenter", { stdout: "" }).on("nsenter", { stdout: files("missing") }, { once: true });
    const users = new ContainerUsers(commands, async () => 4242, proc(true));
    await users.resolve("c", "alice", { path: "/srv/app" });
    assert.equal(commands.calls[0].argv.at(-1), "/srv/app", "asked whether the directory is there");
    assert.deepEqual(commands.calls[1].argv.slice(-3), ["/srv/app", "1001", "1001"]);
    const home = new RecordingRunner().on("nsenter", { stdout: files("present") });
    await new ContainerUsers(home, async () => 4242, proc(true)).resolve("c", "alice", {});
    assert.deepEqual(home.calls[1].argv.slice(-3), ["/home/alice", "1001", "1001"]);
    const there = new RecordingRunner().on("nsenter", { stdout: files("present") });
    await new ContainerUsers(there, async () => 4242, proc(true)).resolve("c", "alice", { path: "/srv/app" });
    assert.equal(there.calls.length, 1, "a directory that is there is left alone");
  });

  it("reads the map of the container's user namespace off the kernel (the daemon's or its own), and none without one", async () => {
    const dir = proc(true);
    writeFileSync(join(dir, "4242", "uid_map"), "         0     300000      65536\n");
    assert.deepEqual(await new ContainerUsers(new RecordingRunner(), async () => 4242, dir).idMapOf("c"), { hostId: 300000, size: 65536 });
    assert.equal(await new ContainerUsers(new RecordingRunner(), async () => 4242, proc(false)).idMapOf("c"), undefined);
    assert.equal(await new ContainerUsers(new RecordingRunner(), async () => undefined, dir).idMapOf("c"), undefined);
  });

  it("names a user it cannot find, and says when the container has no init", async () => {
    const commands = new RecordingRunner().on("nsenter", { stdout: files("present") });
    await assert.rejects(new ContainerUsers(commands, async () => 4242, proc(true)).resolve("c", "bob"), { code: "USER_NOT_FOUND" });
    await assert.rejects(new ContainerUsers(commands, async () => undefined, proc(true)).resolve("c", "alice"), { code: "COMMAND_FAILED" });
  });
});
