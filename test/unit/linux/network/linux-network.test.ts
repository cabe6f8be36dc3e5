import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { externalAddresses, LinuxNetwork } from "../../../../src/linux/network/linux-network.js";
import { RecordingRunner } from "../../../fakes/commands.js";
import { nullLogger } from "../../../fakes/fakes.js";

const A = "1j1cdsetuka";
const B = "1j1cdsetukb";
const network = { subnet: "10.254.0.4/30", hostIp: "10.254.0.5", containerIp: "10.254.0.6" };

describe("linux network", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "wnet-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  const make = (commands: RecordingRunner) =>
    new LinuxNetwork({
      netnsDir: join(dir, "netns"),
      mtu: 1500,
      firewall: { table: "wt", pool: "10.254.0.0/22", allowNetworks: [], allowHostAccess: false },
      log: nullLogger,
      commands,
    });

  it("finds the host's external addresses from its default route", async () => {
    const commands = new RecordingRunner().on("route get", { stdout: '[{"dst":"1.2.3.4","prefsrc":"192.0.2.7"}]' });
    assert.deepEqual(await externalAddresses(commands), ["192.0.2.7"]);
    assert.deepEqual(commands.lines(), ["ip -j route get 1.2.3.4"]);
    assert.deepEqual(await externalAddresses(new RecordingRunner().fail("route", "Network is unreachable")), []);
  });

  it("adds forwards and egress rules of containers asked for at once in one nft transaction", async () => {
    const commands = new RecordingRunner();
    const net = make(commands);
    await Promise.all([
      net.netIn(A, network, { hostPort: 61001, containerPort: 80 }),
      net.netOut(B, { protocol: "tcp", ports: { from: 443, to: 443 }, log: false }),
    ]);
    assert.equal(commands.calls.length, 1);
    assert.deepEqual(commands.calls[0].argv, ["nft", "-f", "-"]);
    assert.match(commands.calls[0].input!, /add element inet wt netin \{ 61001 : 10\.254\.0\.6 \. 80 \}/);
    assert.match(commands.calls[0].input!, new RegExp(`warden-i-${B}`));
  });

  it("removes a container's rules only when it had some, then its links", async () => {
    const commands = new RecordingRunner();
    const net = make(commands);
    await net.destroy(A, { network, netIns: [], netOut: false });
    assert.deepEqual(commands.calls.map((c) => c.argv[0]), ["sh"], "no firewall work for a container without rules");
    await net.destroy(B, { network, netIns: [{ hostPort: 61001, containerPort: 80 }], netOut: true });
    assert.deepEqual(commands.calls.slice(1).map((c) => c.argv[0]), ["nft", "sh"]);
    assert.match(commands.calls[1].input!, /delete element inet wt netin \{ 61001 \}/);
  });

  it("limits bandwidth with tc and reads back what the kernel holds", async () => {
    const tbf = (rate: number, burst: number) => JSON.stringify([{ kind: "tbf", root: true, options: { rate, burst } }]);
    const commands = new RecordingRunner().on("tc -j", { stdout: `${tbf(1000, 500)}\n${tbf(1000, 500)}\n` });
    const stat = await make(commands).limitBandwidth(A, { rate: 1000, burst: 500 });
    assert.deepEqual(stat, { inRate: 1000, inBurst: 500, outRate: 1000, outBurst: 500 });
    const lines = commands.lines();
    assert.deepEqual(lines.slice(0, 2), ["ip -batch -", "tc -batch -"]);
    assert.match(commands.calls[1].input!, new RegExp(`qdisc replace dev w-${A}-0 root tbf rate 8000bit burst 500`));
    assert.match(commands.calls[1].input!, /action mirred egress redirect dev w-1j1cdsetuka-2/);
  });

  it("removes pinned namespaces, chains and forwards of no live container", async () => {
    const table = {
      nftables: [
        { chain: { name: `warden-i-${B}` } },
        { chain: { name: "forward" } },
        { map: { name: "netin", elem: [[61001, { concat: ["10.254.0.6", 80] }], [61002, { concat: ["10.254.0.10", 80] }]] } },
      ],
    };
    const commands = new RecordingRunner().on("nft -j list", { stdout: JSON.stringify(table) });
    const net = make(commands);
    const orphans = await net.removeOrphans(new Map([[A, network]]));
    assert.deepEqual(orphans, [B]);
    const nft = commands.calls.filter((c) => c.argv[0] === "nft" && c.argv[1] === "-f").map((c) => c.input!);
    assert.ok(nft.some((s) => s.includes(`warden-i-${B}`)), "the orphan's chain goes");
    assert.ok(nft.some((s) => s.includes("delete element inet wt netin { 61002 }")), "a forward to no live container goes");
  });
});
