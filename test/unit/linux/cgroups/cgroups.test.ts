// The cgroup readers and writers against directories laid out as the kernel
// lays out cgroup v1 (this machine) and v2 (a pure v2 host).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CgroupsV1, CgroupsV2, NO_MEMORY_LIMIT, sharesToWeight, weightToShares } from "../../../../src/linux/cgroups/cgroups.js";

const ID = "1j1cdsetukg";

async function files(dir: string, contents: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(contents)) await writeFile(join(dir, name), text);
}

describe("cgroup v1", () => {
  let root: string;
  let cg: CgroupsV1;
  const dir = (controller: string) => join(root, controller, "warden", ID);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "cgv1-"));
    cg = new CgroupsV1("warden", root);
    await files(dir("memory"), {
      "memory.limit_in_bytes": "9223372036854771712\n",
      "memory.memsw.limit_in_bytes": "9223372036854771712\n",
      "memory.stat": "cache 9220096\nrss 3141632\nrss_huge 0\nmapped_file 7327744\nswap 0\npgpgin 49964\npgpgout 46946\npgfault 63684\npgmajfault 0\ninactive_anon 577536\nactive_anon 954368\ninactive_file 135168\nactive_file 16384\nunevictable 0\nhierarchical_memory_limit 33554432\nhierarchical_memsw_limit 33554432\ntotal_cache 9220096\ntotal_rss 3141632\n",
      "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
      "cgroup.procs": "12\n13\n",
    });
    await files(dir("cpu"), { "cpu.shares": "1024\n" });
    await files(dir("cpuacct"), { "cpuacct.usage": "950817684553\n", "cpuacct.stat": "user 60597\nsystem 34484\n" });
    await files(dir("pids"), { "pids.current": "7\n" });
  });

  after(() => rm(root, { recursive: true, force: true }));

  const memFiles = async () => [
    (await readFile(join(dir("memory"), "memory.limit_in_bytes"), "utf8")).trim(),
    (await readFile(join(dir("memory"), "memory.memsw.limit_in_bytes"), "utf8")).trim(),
  ];

  it("writes memory and memsw limits, and reads the limit back", async () => {
    await cg.setMemoryLimit(ID, 33554432n);
    assert.deepEqual(await memFiles(), ["33554432", "33554432"]);
    assert.equal(await cg.memoryLimit(ID), 33554432n);
  });

  it("writes memsw first when raising and the limit first when lowering", async () => {
    const writes: string[] = [];
    const watched = new CgroupsV1("warden", root, async (file, value) => {
      writes.push(file.endsWith("memsw.limit_in_bytes") ? "memsw" : "limit");
      await writeFile(file, value);
    });
    await cg.setMemoryLimit(ID, 33554432n);
    await watched.setMemoryLimit(ID, 67108864n);
    assert.deepEqual(writes.splice(0), ["memsw", "limit"], "raising");
    await watched.setMemoryLimit(ID, 16777216n);
    assert.deepEqual(writes.splice(0), ["limit", "memsw"], "lowering");
    assert.deepEqual(await memFiles(), ["16777216", "16777216"]);
  });

  it("reads memory.stat into the memory stats' fields", async () => {
    const stat = await cg.memoryStats(ID);
    assert.equal(stat.rss, 3141632n);
    assert.equal(stat.cache, 9220096n);
    assert.equal(stat.mappedFile, 7327744n);
    assert.equal(stat.inactiveAnon, 577536n);
    assert.equal(stat.hierarchicalMemoryLimit, 33554432n);
    assert.equal(stat.totalRss, 3141632n);
    assert.equal((stat as Record<string, unknown>).rssHuge, undefined, "fields the stats do not name are left out");
  });

  it("reads cpu shares, and cpuacct usage and user/system ticks in nanoseconds", async () => {
    await cg.setCpuShares(ID, 512n);
    assert.equal(await cg.cpuShares(ID), 512n);
    assert.deepEqual(await cg.cpuStats(ID), { usage: 950817684553n, user: 605970000000n, system: 344840000000n });
  });

  it("reads how many processes the container has", async () => {
    assert.equal(await cg.pids(ID), 7);
  });

  it("reads the OOM kill counter and the processes", async () => {
    assert.equal(await cg.oomKills(ID), 3);
    assert.deepEqual(await cg.procs(ID), [12, 13]);
  });

  it("reads a cgroup in detail: memory, CFS throttling, CPU settings, the pids limit, and a census of its processes", async () => {
    const id = "1j1cdsetukh";
    const at = (controller: string) => join(root, controller, "warden", id);
    await files(at("memory"), {
      "memory.usage_in_bytes": "4096\n", "memory.max_usage_in_bytes": "8192\n", "memory.failcnt": "2\n",
      "memory.limit_in_bytes": "67108864\n", "memory.memsw.limit_in_bytes": "67108864\n",
      "cgroup.procs": `${process.pid}\n`, tasks: `${process.pid}\n${process.pid}\n`,
    });
    await files(at("cpu"), { "cpu.stat": "nr_periods 10\nnr_throttled 3\nthrottled_time 5000\n", "cpu.shares": "512\n", "cpu.cfs_period_us": "100000\n", "cpu.cfs_quota_us": "-1\n" });
    await files(at("pids"), { "pids.max": "max\n" });
    await files(at("blkio"), {
      "blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 12288\n8:0 Sync 0\n8:0 Total 16384\nTotal 16384\n",
      "blkio.throttle.io_serviced_recursive": "8:0 Read 1\n8:0 Write 3\n8:0 Total 4\nTotal 4\n",
    });
    const d = await cg.detail(id);
    assert.deepEqual(d.blockIo.map(({ device: _d, ...counts }) => counts), [{ major: 8, minor: 0, readBytes: 4096n, writeBytes: 12288n, reads: 1n, writes: 3n }]);
    assert.deepEqual(
      [d.memoryUsage, d.memoryMaxUsage, d.memoryFailcnt, d.kernelUsage, d.memoryLimit, d.swapLimit],
      [4096n, 8192n, 2n, 0n, 67108864n, 67108864n],
      "a missing kmem file is 0",
    );
    assert.deepEqual([d.cpuPeriods, d.cpuThrottledPeriods, d.cpuThrottledNanos, d.cpuShares, d.cpuPeriod, d.cpuQuota, d.pidsLimit], [10n, 3n, 5000n, 512n, 100000n, 0n, 0n], "no quota and no pids limit are 0");
    assert.equal(d.processes, 1);
    assert.equal(d.threads, 2);
    assert.ok(d.fileDescriptors >= 3, "this process's open files are counted");
  });
});

describe("cgroup v2", () => {
  let root: string;
  let cg: CgroupsV2;
  const dir = () => join(root, "warden", ID);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "cgv2-"));
    cg = new CgroupsV2("warden", root);
    await files(dir(), {
      "memory.max": "max\n",
      "memory.swap.max": "max\n",
      "memory.swap.current": "0\n",
      "memory.stat":
        "anon 3141632\nfile 9220096\nkernel 1024\nfile_mapped 7327744\nfile_dirty 0\npgfault 63684\npgmajfault 2\ninactive_anon 577536\nactive_anon 954368\ninactive_file 135168\nactive_file 16384\nunevictable 0\n",
      "memory.events": "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n",
      "cpu.weight": "100\n",
      "cpu.stat": "usage_usec 950817684\nuser_usec 605970000\nsystem_usec 344840000\nnr_periods 0\n",
      "cgroup.procs": "7\n",
    });
  });

  after(() => rm(root, { recursive: true, force: true }));

  it("reports an unset memory.max as v1's 'no limit' value", async () => {
    assert.equal(await cg.memoryLimit(ID), NO_MEMORY_LIMIT);
  });

  it("writes memory.max and forbids swap (Warden's memsw limit equal to the limit)", async () => {
    await cg.setMemoryLimit(ID, 33554432n);
    assert.equal((await readFile(join(dir(), "memory.max"), "utf8")).trim(), "33554432");
    assert.equal((await readFile(join(dir(), "memory.swap.max"), "utf8")).trim(), "0");
    assert.equal(await cg.memoryLimit(ID), 33554432n);
  });

  it("maps v2's memory.stat onto v1's fields, totals included", async () => {
    const stat = await cg.memoryStats(ID);
    assert.equal(stat.rss, 3141632n);
    assert.equal(stat.totalRss, 3141632n);
    assert.equal(stat.cache, 9220096n);
    assert.equal(stat.mappedFile, 7327744n);
    assert.equal(stat.pgmajfault, 2n);
    assert.equal(stat.hierarchicalMemoryLimit, 33554432n);
    assert.equal(stat.hierarchicalMemswLimit, 33554432n);
    assert.equal(stat.swap, 0n);
  });

  it("turns shares into cpu.weight and back", async () => {
    await cg.setCpuShares(ID, 1024n);
    assert.equal((await readFile(join(dir(), "cpu.weight"), "utf8")).trim(), String(sharesToWeight(1024n)));
    const back = await cg.cpuShares(ID);
    assert.ok(back >= 990n && back <= 1024n, `about 1024: ${back}`);
    assert.equal(sharesToWeight(2n), 1n);
    assert.equal(sharesToWeight(262144n), 10000n);
    assert.equal(sharesToWeight(1n), 1n, "the kernel's minimum of 2 shares");
    assert.equal(weightToShares(1n), 2n);
  });

  it("reads cpu.stat in nanoseconds", async () => {
    assert.deepEqual(await cg.cpuStats(ID), { usage: 950817684000n, user: 605970000000n, system: 344840000000n });
  });

  it("reads the OOM kill counter from memory.events", async () => {
    assert.equal(await cg.oomKills(ID), 1);
  });
});
