import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OciRuntimeCli } from "../../../../src/linux/runtime/oci-runtime.js";
import { RecordingRunner } from "../../../fakes/commands.js";

describe("OCI runtime command line", () => {
  const options = { name: "crun" as const, path: "/usr/bin/crun", stateRoot: "/run/w/crun" };

  it("gives every call our own state root", async () => {
    const commands = new RecordingRunner().on(" list ", { stdout: "a\nb\n" });
    const oci = new OciRuntimeCli(options, commands);
    await oci.start("abc");
    assert.deepEqual(await oci.list(), ["a", "b"]);
    await oci.forceDelete("abc");
    assert.deepEqual(commands.lines(), [
      "/usr/bin/crun --root=/run/w/crun start abc",
      "/usr/bin/crun --root=/run/w/crun list -q",
      "/usr/bin/crun --root=/run/w/crun delete --force abc",
    ]);
    assert.deepEqual(
      oci.execArgv("abc", { uid: 5, gid: 6 }, "/home", ["A=1"], ["ls"]),
      ["/usr/bin/crun", "--root=/run/w/crun", "exec", "--user", "5:6", "--cwd", "/home", "--env", "A=1", "abc", "ls"],
    );
  });

  it("takes a container that is already gone as deleted, and reports other failures", async () => {
    const gone = new RecordingRunner().fail("delete", "container `abc` does not exist");
    await new OciRuntimeCli(options, gone).forceDelete("abc");
    const broken = new RecordingRunner().fail("delete", "cannot kill: permission denied");
    await assert.rejects(new OciRuntimeCli(options, broken).forceDelete("abc"), /permission denied/);
  });
});
