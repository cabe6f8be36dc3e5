import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseProcLimits, RLIM_INFINITY, toOciRlimits } from "../../../src/linux/rlimits.js";

const PROC_LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max file size             unlimited            unlimited            bytes
Max data size             unlimited            unlimited            bytes
Max stack size            8388608              unlimited            bytes
Max core file size        0                    unlimited            bytes
Max resident set          unlimited            unlimited            bytes
Max processes             96551                96551                processes
Max open files            20000                20000                files
Max locked memory         8388608              8388608              bytes
Max address space         unlimited            unlimited            bytes
Max file locks            unlimited            unlimited            locks
Max pending signals       96551                96551                signals
Max msgqueue size         819200               819200               bytes
Max nice priority         0                    0
Max realtime priority     0                    0
Max realtime timeout      unlimited            unlimited            us
`;

describe("rlimits", () => {
  const hard = parseProcLimits(PROC_LIMITS);

  it("reads the hard limits of /proc/<pid>/limits", () => {
    assert.equal(hard.nofile, 20000n);
    assert.equal(hard.as, RLIM_INFINITY);
    assert.equal(hard.nice, 0n);
    assert.equal(hard.stack, RLIM_INFINITY);
  });

  it("sets soft and hard to the value asked for", () => {
    assert.deepEqual(toOciRlimits({ nofile: 1234n }, hard), [{ type: "RLIMIT_NOFILE", soft: 1234n, hard: 1234n }]);
  });

  it("refuses a value above the host's hard limit, naming the limit", () => {
    assert.throws(() => toOciRlimits({ nofile: 20001n }, hard), {
      message: "rlimit nofile of 20001 is above the host's hard limit of 20000",
    });
    assert.throws(() => toOciRlimits({ nice: 5n }, hard), /rlimit nice/);
  });

  it("accepts unlimited where the host allows it", () => {
    assert.equal(toOciRlimits({ as: RLIM_INFINITY }, hard)[0].hard, RLIM_INFINITY);
  });
});
