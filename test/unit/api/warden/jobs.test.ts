import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jobExitStatus, jobIds, jobSpec, WSH_DEFAULT_RLIMITS } from "../../../../src/api/warden/jobs.js";

const config = { containerUser: "vcap", outputLimit: 100, containerRlimits: { nofile: 4096n }, lang: "en_US.UTF-8" };
const options = { script: "echo hi", privileged: false, rlimits: {}, discardOutput: false };

describe("Warden jobs on processes", () => {
  it("run /bin/bash reading the script, as the container user in their home, with HOME, USER, PATH and LANG", () => {
    const spec = jobSpec(config, options);
    assert.deepEqual([spec.path, spec.args, spec.user, spec.dir], ["/bin/bash", [], "vcap", undefined]);
    assert.deepEqual(spec.env, ["HOME=/home/vcap", "USER=vcap", "PATH=/bin:/usr/bin", "LANG=en_US.UTF-8"]);
    assert.deepEqual(spec.stdin, { kind: "data", data: Buffer.from("echo hi") });
    assert.deepEqual(spec.output, { kind: "kill", limit: 100 });
    assert.equal(spec.forgetWhenCollected, true);
  });

  it("run privileged jobs as root, with root's PATH", () => {
    const spec = jobSpec(config, { ...options, privileged: true });
    assert.equal(spec.user, "root");
    assert.deepEqual(spec.env, ["HOME=/root", "USER=root", "PATH=/sbin:/bin:/usr/sbin:/usr/bin", "LANG=en_US.UTF-8"]);
  });

  it("merge rlimits: wsh's defaults, then the server's, then the request's, without keeping the request's", () => {
    const first = jobSpec(config, { ...options, rlimits: { nofile: 100n, core: 5n } }).rlimits!;
    const second = jobSpec(config, options).rlimits!;
    assert.deepEqual([first.nofile, first.core, first.stack], [100n, 5n, WSH_DEFAULT_RLIMITS.stack]);
    assert.deepEqual([second.nofile, second.core], [4096n, 0n]);
  });

  it("discard output when asked, and tag the log warden.<tag>", () => {
    assert.deepEqual(jobSpec(config, { ...options, discardOutput: true }).output, { kind: "discard" });
    assert.equal(jobSpec(config, { ...options, logTag: "app" }).logTag, "warden.app");
  });

  it("report the exit code, or 255 for a signal, an output cap or an end nobody saw", () => {
    assert.equal(jobExitStatus({ exit: { kind: "exited", code: 137 }, outputExceeded: false }), 137);
    assert.equal(jobExitStatus({ exit: { kind: "signaled", signal: 9 }, outputExceeded: false }), 255);
    assert.equal(jobExitStatus({ exit: { kind: "signaled", signal: 15 }, outputExceeded: true }), 255);
    assert.equal(jobExitStatus({ exit: { kind: "exited", code: 0 }, outputExceeded: true }), 255);
    assert.equal(jobExitStatus({ exit: { kind: "lost" }, outputExceeded: false }), 255);
  });

  it("list as jobs only the processes whose ids are job ids", () => {
    assert.deepEqual(jobIds(["1", "42", "web", "0", "007", "4294967296", "4294967295"]), [1, 42, 4294967295]);
  });
});
