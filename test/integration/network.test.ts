// Networking on a real daemon, in real network namespaces. Traffic goes only
// to container addresses and to the host's own.
//
// From inside a container, bash's /dev/tcp and /dev/udp tell three outcomes
// apart: "ok" (connected), "refused" (reached the target, nothing listens:
// ECONNREFUSED) and "prohibited" (our firewall: EHOSTUNREACH).
import assert from "node:assert/strict";
import { createConnection, createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import type { WardenClient } from "../../src/client/client.js";
import { toLong, warden } from "../../src/protocol/messages.js";
import { externalAddresses } from "../../src/linux/network/linux-network.js";
import { hostCommands } from "../../src/linux/command.js";
import { readdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { run } from "../../src/linux/command.js";
import { ourLinks, startDaemon, type TestDaemon } from "./harness.js";

type Outcome = "ok" | "refused" | "prohibited" | "other";
const { TCP, UDP, ICMP, ALL } = warden.NetOutRequest.Protocol;

function classify(text: string, rc: string): Outcome {
  if (rc === "0") return "ok";
  if (/No route to host/.test(text)) return "prohibited";
  if (/Connection refused/.test(text)) return "refused";
  return "other";
}

async function tcp(c: WardenClient, handle: string, ip: string, port: number): Promise<Outcome> {
  const r = await c.run(handle, `timeout 3 bash -c 'exec 3<>/dev/tcp/${ip}/${port}' 2>&1; echo "rc=$?"`);
  const [, rc] = /rc=(\d+)/.exec(r.stdout) ?? [];
  return classify(r.stdout, rc);
}

// The second send on a connected UDP socket reports the ICMP error the first drew.
async function udp(c: WardenClient, handle: string, ip: string, port: number): Promise<Outcome> {
  const r = await c.run(handle, `exec 3>/dev/udp/${ip}/${port}; echo a >&3; sleep 0.3; echo b >&3; echo "rc=$?"`);
  const [, rc] = /rc=(\d+)/.exec(r.stdout) ?? [];
  return rc === "0" ? "other" : classify(r.stderr, rc);
}

// ICMP echo from the container's network namespace. No job may open a raw
// socket (no CAP_NET_RAW) and busybox's ping knows no other kind, so the
// host's busybox sends it from inside the namespace: the packet takes the
// container's path through the firewall all the same.
async function ping(c: WardenClient, handle: string, ip: string): Promise<boolean> {
  // Namespaces are pinned by container id: the last part of its path.
  const path = (await info(c, handle)).container_path;
  const pin = join(dirname(dirname(path)), "run", "netns", basename(path));
  try {
    await run(["nsenter", `--net=${pin}`, "busybox", "ping", "-c", "1", "-W", "1", ip]);
    return true;
  } catch {
    return false;
  }
}

async function listen(c: WardenClient, handle: string, ...ports: number[]): Promise<void> {
  for (const port of ports) await c.spawn(handle, `exec nc -ll -p ${port} -e /bin/echo hello-${port}`);
  await new Promise((r) => setTimeout(r, 300));
}

/** What the host reads from ip:port, or the error. */
function hostRead(ip: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection({ host: ip, port });
    let data = "";
    s.on("data", (b) => (data += b.toString()));
    s.on("close", () => resolve(data.trim()));
    s.on("error", (e) => resolve(`error: ${(e as NodeJS.ErrnoException).code}`));
    s.setTimeout(3000, () => s.destroy());
  });
}

async function info(c: WardenClient, handle: string) {
  return c.call("Info", { handle });
}

describe("network: isolation and NetOut", () => {
  let daemon: TestDaemon;
  let c: WardenClient;
  let target: string;
  let targetIp: string;
  let hostServer: Server;
  const HOST_PORT = 47001;

  before(async () => {
    daemon = await startDaemon();
    c = await daemon.client();
    target = await c.create({ handle: "target" });
    targetIp = (await info(c, target)).container_ip;
    await listen(c, target, 8080, 8081, 8082, 8083, 9999);
    hostServer = createServer((s) => s.on("error", () => {}).end("host\n"));
    await new Promise<void>((r) => hostServer.listen(HOST_PORT, "0.0.0.0", r));
  });

  after(async () => {
    await new Promise((r) => hostServer.close(r));
    await daemon.stop();
  });

  it("reports the container's /30: host side .1, container side .2", async () => {
    const i = await info(c, target);
    const [a, b, cc, d] = i.container_ip.split(".").map(Number);
    assert.equal(d % 4, 2);
    assert.equal(i.host_ip, `${a}.${b}.${cc}.${d - 1}`);
    const inside = await c.run(target, "ip -o -4 addr show; ip route; cat /etc/hosts", { privileged: true });
    assert.match(inside.stdout, new RegExp(`w-${(await info(c, target)).container_path.split("/").pop()}-1\\s+inet ${i.container_ip}/30`));
    assert.match(inside.stdout, new RegExp(`default via ${i.host_ip}`));
    assert.match(inside.stdout, new RegExp(`${i.container_ip} \\S+`));
  });

  it("lets the host reach every container", async () => {
    assert.equal(await hostRead(targetIp, 8080), "hello-8080");
  });

  it("refuses container to container, container to host, and containers to the host's other addresses", async () => {
    const a = await c.create();
    const hostIp = (await info(c, a)).host_ip;
    assert.equal(await tcp(c, a, targetIp, 8080), "prohibited");
    assert.equal(await tcp(c, a, hostIp, HOST_PORT), "prohibited");
    for (const ext of await externalAddresses(hostCommands)) assert.equal(await tcp(c, a, ext, HOST_PORT), "prohibited");
    assert.equal(await ping(c, a, targetIp), false);
    await c.destroy(a);
  });

  it("lets a container reach itself and its loopback", async () => {
    await listen(c, target, 7070);
    assert.equal(await tcp(c, target, "127.0.0.1", 7070), "ok");
    assert.equal(await tcp(c, target, targetIp, 7070), "ok");
  });

  it("opens exactly the TCP port asked, and nothing next to it", async () => {
    const a = await c.create();
    await c.call("NetOut", { handle: a, network: targetIp, port: 8080 });
    assert.equal(await tcp(c, a, targetIp, 8080), "ok");
    assert.equal(await tcp(c, a, targetIp, 8081), "prohibited");
    assert.equal(await udp(c, a, targetIp, 8080), "prohibited");
    assert.equal(await ping(c, a, targetIp), false);
    await c.destroy(a);
  });

  it("opens exactly a port range", async () => {
    const a = await c.create();
    await c.call("NetOut", { handle: a, network: targetIp, port_range: "8081:8082", protocol: TCP });
    assert.deepEqual(
      [await tcp(c, a, targetIp, 8080), await tcp(c, a, targetIp, 8081), await tcp(c, a, targetIp, 8082), await tcp(c, a, targetIp, 8083)],
      ["prohibited", "ok", "ok", "prohibited"],
    );
    await c.destroy(a);
  });

  it("opens exactly UDP to a port", async () => {
    const a = await c.create();
    await c.call("NetOut", { handle: a, network: targetIp, port: 5353, protocol: UDP });
    // Nothing listens on UDP there: "refused" means the packet got through.
    assert.equal(await udp(c, a, targetIp, 5353), "refused");
    assert.equal(await udp(c, a, targetIp, 5354), "prohibited");
    assert.equal(await tcp(c, a, targetIp, 9999), "prohibited");
    await c.destroy(a);
  });

  it("opens exactly the ICMP type and code asked", async () => {
    const a = await c.create();
    await c.call("NetOut", { handle: a, network: targetIp, protocol: ICMP, icmp_type: 13, icmp_code: 0 });
    assert.equal(await ping(c, a, targetIp), false, "a timestamp rule does not open echo");
    await c.call("NetOut", { handle: a, network: targetIp, protocol: ICMP, icmp_type: 8, icmp_code: 0 });
    assert.equal(await ping(c, a, targetIp), true);
    assert.equal(await tcp(c, a, targetIp, 8080), "prohibited");
    await c.destroy(a);
  });

  it("opens every protocol with ALL, to exactly the network named, given as a range", async () => {
    const other = await c.create();
    const otherIp = (await info(c, other)).container_ip;
    await listen(c, other, 8080);
    const a = await c.create();
    await c.call("NetOut", { handle: a, network: `${targetIp}-${targetIp}`, protocol: ALL });
    assert.equal(await tcp(c, a, targetIp, 8080), "ok");
    assert.equal(await udp(c, a, targetIp, 5353), "refused");
    assert.equal(await ping(c, a, targetIp), true);
    assert.equal(await tcp(c, a, otherIp, 8080), "prohibited");
    await c.destroy(a);
    await c.destroy(other);
  });

  it("logs each new connection of a rule with log once, tagged with the container's chain", async (t) => {
    const a = await c.create();
    const id = (await info(c, a)).container_path.split("/").pop()!;
    const logged = async () => {
      const { stdout } = await run(["dmesg"]).catch(() => ({ stdout: "" }));
      return stdout.split("\n").filter((l) => l.includes(`warden-i-${id} `)).length;
    };
    if ((await run(["dmesg"]).catch(() => undefined)) === undefined) return t.skip("the kernel log cannot be read here");
    await c.call("NetOut", { handle: a, network: targetIp, port: 8080, log: true });
    // Each connection sends several packets; only the first of each is logged.
    assert.equal(await tcp(c, a, targetIp, 8080), "ok");
    assert.equal(await tcp(c, a, targetIp, 8080), "ok");
    assert.equal(await logged(), 2);
    await c.destroy(a);
  });

  it("refuses bad NetOut input with Warden's texts, changing nothing", async () => {
    const a = await c.create();
    await assert.rejects(c.call("NetOut", { handle: a }), { message: "Please specify network, port, and/or port_range." });
    await assert.rejects(c.call("NetOut", { handle: a, port_range: "90:80" }), { message: "Port range maximum must be greater than minimum" });
    await assert.rejects(c.call("NetOut", { handle: a, network: "10.0.0.0/99" }), /Invalid network/);
    await assert.rejects(c.call("NetOut", { handle: a, network: targetIp, port: 80, protocol: ALL }), /TCP and UDP/);
    assert.equal(await tcp(c, a, targetIp, 8080), "prohibited");
    await c.destroy(a);
  });
});

describe("network: allow_host_access and allow_networks", () => {
  let daemon: TestDaemon;
  let c: WardenClient;
  let hostServer: Server;
  const HOST_PORT = 47002;

  before(async () => {
    daemon = await startDaemon({
      config: {
        network: {
          pool_network: "10.254.8.0/22",
          allow_host_access: true,
          allow_networks: ["10.254.9.0/30"],
          dns_servers: ["10.254.8.53", "10.254.8.54"],
        },
      },
    });
    c = await daemon.client();
    hostServer = createServer((s) => s.on("error", () => {}).end("host\n"));
    await new Promise<void>((r) => hostServer.listen(HOST_PORT, "0.0.0.0", r));
  });

  after(async () => {
    await new Promise((r) => hostServer.close(r));
    await daemon.stop();
  });

  it("opens the host and the networks named, and nothing else", async () => {
    const allowed = await c.create({ network: "10.254.9.2" });
    const other = await c.create({ network: "10.254.9.6" });
    await listen(c, allowed, 8080);
    await listen(c, other, 8080);
    const a = await c.create();
    assert.equal(await tcp(c, a, (await info(c, a)).host_ip, HOST_PORT), "ok");
    assert.equal(await tcp(c, a, "10.254.9.2", 8080), "ok");
    assert.equal(await tcp(c, a, "10.254.9.6", 8080), "prohibited");
    for (const h of [a, allowed, other]) await c.destroy(h);
  });

  it("writes the configured DNS servers to the container's resolv.conf", async () => {
    const h = await c.create();
    assert.equal((await c.run(h, "cat /etc/resolv.conf")).stdout, "nameserver 10.254.8.53\nnameserver 10.254.8.54\n");
    await c.destroy(h);
  });

  it("gives the requested network, and Warden's error for a taken or foreign one", async () => {
    const h = await c.create({ network: "10.254.10.5" });
    assert.equal((await info(c, h)).container_ip, "10.254.10.6");
    await assert.rejects(c.create({ network: "10.254.10.6" }), { message: "Could not acquire network: 10.254.10.4" });
    await assert.rejects(c.create({ network: "192.168.77.1" }), { message: "Could not acquire network: 192.168.77.0" });
    await assert.rejects(c.create({ network: "not-an-ip" }), /Invalid network address/);
    await c.destroy(h);
  });
});

describe("network: NetIn", () => {
  let daemon: TestDaemon;
  let c: WardenClient;
  let external: string;

  before(async () => {
    daemon = await startDaemon();
    c = await daemon.client();
    [external] = await externalAddresses(hostCommands);
  });

  after(() => daemon.stop());

  it("forwards a port from the pool on the host's external address, and on 127.0.0.1 for the host itself, to the container", async () => {
    const h = await c.create();
    await listen(c, h, 8080);
    const r = await c.call("NetIn", { handle: h, container_port: 8080 });
    assert.ok(r.host_port >= 61000 && r.host_port <= 65000, `pool port ${r.host_port}`);
    assert.equal(r.container_port, 8080);
    assert.equal(await hostRead(external, r.host_port), "hello-8080");
    assert.equal(await hostRead("127.0.0.1", r.host_port), "hello-8080");
    await c.destroy(h);
    assert.match(await hostRead(external, r.host_port), /error: ECONNREFUSED/, "the forward went with the container");
    assert.match(await hostRead("127.0.0.1", r.host_port), /error: ECONNREFUSED/);
  });

  it("forwards an explicit host port, the container port defaulting to it, and refuses it twice", async () => {
    const h = await c.create();
    await listen(c, h, 47100);
    assert.deepEqual({ ...(await c.call("NetIn", { handle: h, host_port: 47100 })) }, { host_port: 47100, container_port: 47100 });
    assert.equal(await hostRead(external, 47100), "hello-47100");
    const other = await c.create();
    await assert.rejects(c.call("NetIn", { handle: other, host_port: 47100 }), { message: "host port 47100 is already forwarded" });
    await assert.rejects(c.call("NetIn", { handle: other, host_port: 70000 }), /not a port/);
    await c.destroy(h);
    await c.destroy(other);
  });
});

describe("network: bandwidth", () => {
  let daemon: TestDaemon;
  let c: WardenClient;
  const RATE = 1_500_000;
  const BYTES = 3_000_000;

  before(async () => {
    daemon = await startDaemon();
    c = await daemon.client();
  });

  after(() => daemon.stop());

  /** Seconds to move BYTES into (nc receiving) or out of (nc sending) the container. */
  async function transfer(ip: string, port: number, direction: "in" | "out"): Promise<number> {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const s = createConnection({ host: ip, port });
      let got = 0;
      s.on("connect", () => {
        if (direction === "in") s.end(Buffer.alloc(BYTES));
      });
      s.on("data", (b) => (got += b.length));
      s.on("close", () => (direction === "out" && got !== BYTES ? reject(new Error(`got ${got} bytes`)) : resolve()));
      s.on("error", reject);
    });
    return (performance.now() - started) / 1000;
  }

  it("limits both directions to the rate, within 30%, and reads the limit back", async (t) => {
    const h = await c.create();
    const ip = (await info(c, h)).container_ip;
    assert.equal(String((await info(c, h)).bandwidth_stat?.in_rate), "4294967295");
    const limit = await c.call("LimitBandwidth", { handle: h, rate: toLong(RATE), burst: toLong(65536) });
    assert.equal(Number(limit.rate), RATE);
    assert.equal(Number(limit.burst), 65536);
    // Read back from the kernel, which keeps the burst as time at the rate: a byte may go in rounding.
    const stat = (await info(c, h)).bandwidth_stat!;
    const read = [stat.in_rate, stat.in_burst, stat.out_rate, stat.out_burst].map(Number);
    [RATE, 65536, RATE, 65536].forEach((want, i) => assert.ok(Math.abs(read[i] - want) <= want / 100, `${read[i]} for ${want}`));
    // nc's own stdin would end at once; a program reading the socket to its end does not.
    await c.spawn(h, `printf '#!/bin/sh\\nexec cat > /dev/null\\n' > /tmp/recv; chmod +x /tmp/recv; exec nc -l -p 7000 -e /tmp/recv`);
    await c.spawn(h, `printf '#!/bin/sh\\nhead -c ${BYTES} /dev/zero\\n' > /tmp/send; chmod +x /tmp/send; exec nc -l -p 7001 -e /tmp/send`);
    await new Promise((r) => setTimeout(r, 300));
    const into = BYTES / (await transfer(ip, 7000, "in"));
    const out = BYTES / (await transfer(ip, 7001, "out"));
    t.diagnostic(`into the container ${Math.round(into)} B/s, out of it ${Math.round(out)} B/s, limit ${RATE}`);
    for (const [name, rate] of [["into", into], ["out of", out]] as const) {
      assert.ok(rate > RATE * 0.7 && rate < RATE * 1.3, `${name} the container: ${Math.round(rate)} B/s against ${RATE}`);
    }
    await c.destroy(h);
  });

  it("refuses a limit of nothing", async () => {
    const h = await c.create();
    await assert.rejects(c.call("LimitBandwidth", { handle: h, rate: toLong(0), burst: toLong(100) }), /rate/);
    await c.destroy(h);
  });
});

describe("network: limits of the pool", () => {
  it("says the pool is exhausted in Warden's words, and leaves nothing half-made", async () => {
    const daemon = await startDaemon({ config: { network: { pool_network: "10.254.12.0/29" } } });
    try {
      const c = await daemon.client();
      await c.create();
      await c.create();
      await assert.rejects(c.create(), { message: "Could not acquire network" });
      assert.equal((await c.call("List")).handles.length, 2);
    } finally {
      await daemon.stop();
    }
  });
});

describe("network: after a crash", () => {
  it("keeps a recovered container's network, and removes at start-up what belongs to no container", async () => {
    const daemon = await startDaemon();
    try {
      let c = await daemon.client();
      const h = await c.create({ grace_time: 600 });
      const id = (await info(c, h)).container_path.split("/").pop()!;
      await c.call("NetIn", { handle: h, host_port: 47200 });
      await c.call("NetOut", { handle: h, network: "10.0.0.1", port: 80 });
      await c.call("LimitBandwidth", { handle: h, rate: toLong(1_000_000), burst: toLong(100_000) });
      // Orphans of no container: a chain of ours, a forward to nowhere, a pinned namespace.
      await run(["nft", "-f", "-"], {
        input: `add chain inet ${daemon.nftTable} warden-i-0000000000v\nadd element inet ${daemon.nftTable} netin { 47201 : 10.254.3.254 . 80 }\n`,
      });
      await run(["sh", "-c", 'touch "$1" && unshare --net="$1" true', "sh", join(daemon.runDir, "netns", "0000000000w")]);
      await daemon.kill();
      await daemon.restart();
      c = await daemon.client();
      assert.deepEqual((await c.call("List")).handles, [h]);
      const links = await ourLinks();
      assert.ok(links.includes(`w-${id}-0`) && links.includes(`w-${id}-2`), `the container's interfaces stay: ${links}`);
      const table = (await run(["nft", "list", "table", "inet", daemon.nftTable])).stdout;
      assert.match(table, new RegExp(`warden-i-${id}`), "its chain stays");
      assert.match(table, /47200 : /, "its forward stays");
      assert.equal((table.match(/ip daddr 10\.0\.0\.1 tcp dport 80 accept/g) ?? []).length, 1, "its rule once, not twice");
      assert.doesNotMatch(table, /warden-i-0000000000v/, "the orphan chain is gone");
      assert.doesNotMatch(table, /47201/, "the orphan forward is gone");
      assert.deepEqual(await readdir(join(daemon.runDir, "netns")), [id], "only its namespace is pinned");
      assert.equal(Number((await info(c, h)).bandwidth_stat!.in_rate), 1_000_000);
    } finally {
      await daemon.stop();
    }
  });
});

describe("network: a half-made host set-up", () => {
  it("starts on what a daemon stopped while setting up left (a runtime namespace made before the depot's mount), and its containers work", async () => {
    const daemon = await startDaemon({
      prepare: async (dir) => {
        // What a daemon killed between its mounts leaves: the pin directory
        // mounted but private, and a runtime namespace made after it.
        const netns = join(dir, "run/netns");
        const ns = join(dir, "run/ns");
        await run(["mkdir", "-p", netns, ns]);
        await run(["mount", "--bind", netns, netns]);
        await run(["mount", "--bind", ns, ns]);
        await run(["mount", "--make-private", ns]);
        await run(["touch", join(ns, "mnt")]);
        await run(["unshare", `--mount=${join(ns, "mnt")}`, "--propagation", "slave", "true"]);
      },
    });
    try {
      const c = await daemon.client();
      const h = await c.create();
      assert.equal((await c.run(h, "echo up")).stdout, "up\n");
    } finally {
      await daemon.stop();
    }
  });
});
