// Networking cost:
//   (1) network set-up + teardown of one container (namespace, veth pair,
//       addresses, route; then removal), alone, through LinuxNetwork;
//   (2) create + destroy latency with 250 containers present (each with a
//       NetIn and a NetOut rule) against none, through a real daemon.
//
//   npm run build && node dist/bench/network.js [runs] [present]     (as root; defaults 30, 250)
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContainerIdGenerator } from "../src/core/container-id.js";
import { silentLogger } from "../src/log.js";
import { LinuxNetwork } from "../src/linux/network/linux-network.js";
import { RuntimeMountNamespace } from "../src/linux/runtime/mount-namespace.js";
import { startDaemon } from "../test/integration/harness.js";
import { hostCommands } from "../src/linux/command.js";

const RUNS = Number(process.argv[2] ?? 30);
const PRESENT = Number(process.argv[3] ?? 250);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length * 0.9)];
}

const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;

async function networkAlone(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "wardenbench-net-"));
  const ns = new RuntimeMountNamespace(dir, hostCommands);
  const netnsDir = join(dir, "netns");
  await ns.ensure([netnsDir]);
  const network = new LinuxNetwork({
    netnsDir,
    mtu: 1500,
    firewall: { table: "wbench", pool: "10.254.16.0/22", allowNetworks: [], allowHostAccess: false },
    log: silentLogger,
    commands: hostCommands,
  });
  await network.setUp();
  const ids = new ContainerIdGenerator();
  const up: number[] = [];
  const down: number[] = [];
  const downRules: number[] = [];
  try {
    for (let i = 0; i < RUNS + 3; i++) {
      const id = ids.generate();
      const net = { subnet: "10.254.16.0/30", hostIp: "10.254.16.1", containerIp: "10.254.16.2" };
      let t = process.hrtime.bigint();
      await network.create(id, net);
      const u = ms(t);
      t = process.hrtime.bigint();
      await network.destroy(id, { network: net, netIns: [], netOut: false });
      const d = ms(t);
      // The same with a NetIn and a NetOut to remove from the firewall.
      const id2 = ids.generate();
      await network.create(id2, net);
      const rule = { hostPort: 47300 + i, containerPort: 80 };
      await network.netIn(id2, net, rule);
      await network.netOut(id2, { protocol: "tcp", log: false, ports: { from: 80, to: 80 } });
      t = process.hrtime.bigint();
      await network.destroy(id2, { network: net, netIns: [rule], netOut: true });
      const dr = ms(t);
      if (i < 3) continue;
      up.push(u);
      down.push(d);
      downRules.push(dr);
    }
  } finally {
    await network.tearDown();
    await ns.teardown();
    await ns.unshare(netnsDir);
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`\n(1) network alone, ${RUNS} runs, ms                     median     p90`);
  console.log(`  set-up (namespace, veth, addresses, route)      ${median(up).toFixed(1).padStart(7)} ${p90(up).toFixed(1).padStart(7)}`);
  console.log(`  teardown, no firewall rules                     ${median(down).toFixed(1).padStart(7)} ${p90(down).toFixed(1).padStart(7)}`);
  console.log(`  teardown with a NetIn and a NetOut              ${median(downRules).toFixed(1).padStart(7)} ${p90(downRules).toFixed(1).padStart(7)}`);
}

async function withContainersPresent(): Promise<void> {
  // Room for PRESENT containers plus the ones measured, which the release delay holds back a while.
  const daemon = await startDaemon({
    config: {
      logging: { level: "warn" },
      network: { pool_network: "10.254.32.0/21" },
      user: { pool_size: 600 },
    },
  });
  try {
    const c = await daemon.client();
    const measure = async () => {
      const create: number[] = [];
      const destroy: number[] = [];
      for (let i = 0; i < RUNS + 3; i++) {
        let t = process.hrtime.bigint();
        const h = await c.create();
        const cr = ms(t);
        t = process.hrtime.bigint();
        await c.destroy(h);
        const de = ms(t);
        if (i < 3) continue;
        create.push(cr);
        destroy.push(de);
      }
      return { create, destroy };
    };
    const empty = await measure();
    const started = Date.now();
    for (let i = 0; i < PRESENT; i++) {
      const h = await c.create();
      await c.call("NetIn", { handle: h });
      await c.call("NetOut", { handle: h, network: "10.0.0.0/8", port: 443 });
    }
    const filled = Date.now() - started;
    const full = await measure();
    console.log(`\n(2) daemon, ${RUNS} runs each, ms                        median     p90`);
    console.log(`  create, no other container                      ${median(empty.create).toFixed(1).padStart(7)} ${p90(empty.create).toFixed(1).padStart(7)}`);
    console.log(`  create, ${PRESENT} present with NetIn + NetOut         ${median(full.create).toFixed(1).padStart(7)} ${p90(full.create).toFixed(1).padStart(7)}`);
    console.log(`  destroy, no other container                     ${median(empty.destroy).toFixed(1).padStart(7)} ${p90(empty.destroy).toFixed(1).padStart(7)}`);
    console.log(`  destroy, ${PRESENT} present                            ${median(full.destroy).toFixed(1).padStart(7)} ${p90(full.destroy).toFixed(1).padStart(7)}`);
    console.log(`  ratio create ${PRESENT}/0: ${(median(full.create) / median(empty.create)).toFixed(2)}x   (target <= 1.3x)`);
    console.log(`  ratio destroy ${PRESENT}/0: ${(median(full.destroy) / median(empty.destroy)).toFixed(2)}x`);
    console.log(`  (filling ${PRESENT} containers with their rules took ${(filled / 1000).toFixed(1)} s)`);
  } finally {
    await daemon.stop();
  }
}

await networkAlone();
await withContainersPresent();
