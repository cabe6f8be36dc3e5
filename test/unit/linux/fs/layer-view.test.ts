// Reading image layers as overlay will merge them, before they are mounted.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { hostCommands, run } from "../../../../src/linux/command.js";
import { layerView, OpaqueDirectories } from "../../../../src/linux/fs/layer-view.js";
import { RecordingRunner } from "../../../fakes/commands.js";

describe("layer view", () => {
  let dir: string;
  let layers: string[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wview-"));
    const [bottom, middle, top] = (layers = ["bottom", "middle", "top"].map((n) => join(dir, n)));
    for (const l of layers) await mkdir(l);
    await mkdir(join(bottom, "etc"));
    await writeFile(join(bottom, "etc/passwd"), "bottom");
    await writeFile(join(bottom, "etc/group"), "bottom");
    await mkdir(join(bottom, "home/vcap"), { recursive: true });
    await mkdir(join(bottom, "tmp"));
    await mkdir(join(bottom, "root"));
    // The middle layer changes /etc/group, deletes /tmp and empties /home (deleted and made again: opaque).
    await mkdir(join(middle, "etc"));
    await writeFile(join(middle, "etc/group"), "middle");
    await run(["mknod", join(middle, "tmp"), "c", "0", "0"]);
    await mkdir(join(middle, "home"));
    await run(["setfattr", "-n", "trusted.overlay.opaque", "-v", "y", join(middle, "home")]);
    // The top layer replaces /root by a file and touches /etc without changing passwd.
    await mkdir(join(top, "etc"));
    await writeFile(join(top, "etc/motd"), "hi");
    await writeFile(join(top, "root"), "a file now");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("finds each path in the topmost layer that has it, hidden by whiteouts, files and opaque directories above", async () => {
    const view = layerView(layers, new OpaqueDirectories(hostCommands));
    assert.equal(view.top, layers[2]);
    assert.equal(await view.find("etc/passwd"), join(layers[0], "etc/passwd"));
    assert.equal(await view.find("etc/group"), join(layers[1], "etc/group"));
    assert.equal(await view.find("/etc/motd"), join(layers[2], "etc/motd"));
    assert.equal(await view.find("tmp"), undefined, "a whiteout hides it");
    assert.equal(await view.find("home/vcap"), undefined, "an opaque directory hides what is below");
    assert.equal(await view.find("root"), join(layers[2], "root"));
    assert.equal(await view.find("root/.bashrc"), undefined, "a file in place of a directory hides what was in it");
    assert.equal(await view.find("nothing/here"), undefined);
  });

  it("asks whether a directory is opaque once, as layers never change", async () => {
    const commands = new RecordingRunner().on("getfattr", { code: 1, stdout: "" });
    const view = layerView(layers, new OpaqueDirectories(commands));
    await view.find("etc/passwd");
    await view.find("etc/passwd");
    assert.deepEqual(commands.lines().filter((l) => l.includes("/etc")).length, 2, "top/etc and middle/etc, each once");
  });
});
