import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { wardenMessage } from "../../../../src/api/warden/errors.js";
import { CoreError, errors, type ErrorCode } from "../../../../src/core/errors.js";

describe("Warden's error texts", () => {
  it("are Warden's exact words for what Warden knew", () => {
    const cases: Array<[CoreError, string]> = [
      [errors.containerNotFound("h"), "unknown handle"],
      [errors.processNotFound("7"), "no such job"],
      [errors.handleTaken("web"), "container with handle: web already exists."],
      [errors.wrongState(["active"], "stopped"), "Container state must be one of 'active', current state is 'stopped'"],
      [errors.wrongState(["active", "stopped"], "destroyed"), "Container state must be one of 'active, stopped', current state is 'destroyed'"],
      [errors.rootfsNotFound("/nope"), "rootfs /nope not found"],
      [errors.bindMountSourceMissing("/src"), "Source path for bind mount does not exist: /src"],
      [errors.uidPoolEmpty(), "Warden::Pool::Uid::NoUidAvailable"],
      [errors.portPoolEmpty(), "Warden::Pool::Port::NoPortAvailable"],
      [errors.networkUnavailable(), "Could not acquire network"],
      [errors.networkUnavailable("10.254.0.8"), "Could not acquire network: 10.254.0.8"],
      [errors.spawnFailed("crun said"), "iomux-spawn failed"],
      [errors.executableNotFound("/bin/bash"), "iomux-spawn failed"],
      [errors.commandFailed("ip: oops"), "command exited with failure"],
      [errors.shuttingDown(), "server is shutting down"],
      [errors.limitFailed("setting memory limit", new Error("Device or resource busy")), "Failed setting memory limit: Device or resource busy"],
      [errors.internal("boom"), "unexpected error: boom"],
    ];
    for (const [err, text] of cases) assert.equal(wardenMessage(err), text, err.code);
  });

  it("answer a failed destroy with what its first failed step said", () => {
    const err = errors.destroyFailed("h", [
      { step: "network", error: errors.commandFailed("Cannot find device") },
      { step: "unmount", error: errors.internal("busy") },
    ]);
    assert.equal(wardenMessage(err), "command exited with failure");
  });

  it("pass our own texts through where Warden had none", () => {
    assert.equal(wardenMessage(errors.invalid("handle must not be empty")), "handle must not be empty");
    assert.equal(wardenMessage(errors.hostPortTaken(80)), "host port 80 is already forwarded");
    const codes: ErrorCode[] = ["RLIMIT_ABOVE_HARD_LIMIT", "USER_NOT_FOUND", "PROCESS_ID_TAKEN", "PROPERTY_NOT_FOUND"];
    for (const code of codes) assert.equal(wardenMessage(new CoreError(code, `text of ${code}`)), `text of ${code}`);
  });
});
