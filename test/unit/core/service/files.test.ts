import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { beforeEach, describe, it } from "node:test";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { FakeMachine } from "../../../fakes/service.js";

describe("files", () => {
  let m: FakeMachine;
  let s: ContainerService;
  let h: string;
  beforeEach(async () => {
    m = new FakeMachine();
    s = m.service();
    h = await s.create({});
  });

  it("copies in as the container user, to active containers only", async () => {
    await s.copyIn(h, { src: "/host/dir/", dst: "/home/vcap/x" });
    assert.deepEqual(m.files.copies[0].user, { name: "vcap", uid: 10000, gid: 10000, groups: [], home: "/home/vcap" });
    await s.stop(h, { kill: true });
    await assert.rejects(s.copyIn(h, { src: "/host/a", dst: "/b" }), { code: "WRONG_STATE" });
  });

  it("copies out of stopped containers too, with the owner asked for", async () => {
    await s.stop(h, { kill: true });
    await s.copyOut(h, { src: "/etc/hosts", dst: "/host/out", owner: "nobody:nogroup" });
    assert.equal(m.files.copies[0].owner, "nobody:nogroup");
  });

  it("wants absolute host paths and named container paths", async () => {
    await assert.rejects(s.copyIn(h, { src: "relative/src", dst: "/dst" }), /src_path must be an absolute path on the host/);
    await assert.rejects(s.copyOut(h, { src: "/src", dst: "relative" }), /dst_path must be an absolute path on the host/);
    await assert.rejects(s.copyIn(h, { src: "/src", dst: "" }), /must not be empty/);
    assert.equal(m.files.copies.length, 0);
  });

  it("streams a tar in and out as root by default, or as the user asked for", async () => {
    await s.streamIn(h, { path: "/srv", tar: Readable.from([Buffer.from("archive")]) });
    assert.deepEqual([m.files.streamed[0].user.name, m.files.streamed[0].path, m.files.streamed[0].data!.toString()], ["root", "/srv", "archive"]);
    const out = await s.streamOut(h, { path: "/etc", user: "vcap" });
    let text = "";
    for await (const chunk of out) text += String(chunk);
    assert.equal(text, "tar of /etc");
    assert.equal(m.files.streamed[1].user.name, "vcap");
    await assert.rejects(s.streamOut(h, { path: "" }), { code: "INVALID_REQUEST" });
  });

  it("looks a user up for files without making anything for them", async () => {
    const box = m.runtime.container(m.id());
    box.passwd += "alice:x:1001:1001::/home/alice:/bin/sh\n";
    await s.streamOut(h, { path: "/etc", user: "alice" });
    assert.deepEqual(m.runtime.resolved, [{ id: m.id(), user: "alice" }]);
    assert.deepEqual(box.dirsMade, []);
    await assert.rejects(s.streamIn(h, { path: "/x", user: "mallory", tar: Readable.from([]) }), { code: "USER_NOT_FOUND" });
  });
});
