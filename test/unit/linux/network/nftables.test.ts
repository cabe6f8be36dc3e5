import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { baseRuleset, netInScript, netOutMatch, netOutScript, removeScript } from "../../../../src/linux/network/nftables.js";
import { dnsResolvConf, resolvConf } from "../../../../src/linux/network/resolv-conf.js";
import { parseTbf, UNLIMITED } from "../../../../src/linux/network/shaper.js";
import { idOfChain, idOfInterface } from "../../../../src/linux/network/names.js";

const config = { table: "warden", pool: "10.254.0.0/22", allowNetworks: [], allowHostAccess: false, externalAddresses: ["192.0.2.2"] };

describe("nftables rules", () => {
  it("keeps everything in a table of our own, touching no other", () => {
    for (const line of baseRuleset(config).trim().split("\n")) assert.match(line, / inet warden( |$)/);
  });

  it("forwards ports on the host's addresses and on 127.0.0.1, masquerading a loopback source toward the pool", () => {
    const rules = baseRuleset(config);
    assert.match(rules, /add rule inet warden output ip daddr 127.0.0.1 dnat ip to tcp dport map @netin/);
    assert.match(rules, /add rule inet warden postrouting ip saddr 127.0.0.0\/8 ip daddr 10.254.0.0\/22 masquerade/);
  });

  it("rejects what containers send to each other, to the host and out, unless allowed", () => {
    const rules = baseRuleset(config);
    assert.match(rules, /add rule inet warden forward ip saddr != 10.254.0.0\/22 accept/);
    assert.match(rules, /add rule inet warden forward ip daddr @allow accept\nadd rule inet warden forward reject/);
    assert.match(rules, /add rule inet warden input reject with icmpx type admin-prohibited/);
    assert.match(baseRuleset({ ...config, allowHostAccess: true }), /add rule inet warden input accept/);
  });

  it("drops spoofed sources and IPv6 from containers", () => {
    const rules = baseRuleset(config);
    assert.match(rules, /antispoof iifname "w-\*" fib saddr \. iif oif missing drop/);
    assert.match(rules, /antispoof iifname "w-\*" meta nfproto ipv6 drop/);
  });

  it("masquerades what leaves the pool and forwards NetIn ports on the external address", () => {
    const rules = baseRuleset({ ...config, allowNetworks: ["10.0.0.0/8", "192.168.1.1"] });
    assert.match(rules, /postrouting ip saddr 10.254.0.0\/22 ip daddr != 10.254.0.0\/22 masquerade/);
    assert.match(rules, /add element inet warden external \{ 192.0.2.2 \}/);
    assert.match(rules, /add element inet warden allow \{ 10.0.0.0\/8, 192.168.1.1 \}/);
    assert.equal(netInScript("warden", "10.254.0.2", { hostPort: 61001, containerPort: 8080 }),
      "add element inet warden netin { 61001 : 10.254.0.2 . 8080 }\n");
  });

  it("renders NetOut rules exactly: protocol, ports, ranges, ICMP type and code", () => {
    assert.equal(netOutMatch({ protocol: "tcp", log: false, network: { kind: "cidr", cidr: "10.0.0.0/8" }, ports: { from: 80, to: 90 } }),
      "ip daddr 10.0.0.0/8 meta l4proto tcp tcp dport 80-90");
    assert.equal(netOutMatch({ protocol: "udp", log: false, ports: { from: 53, to: 53 } }), "meta l4proto udp udp dport 53");
    assert.equal(netOutMatch({ protocol: "icmp", log: false, network: { kind: "range", start: "10.0.0.1", end: "10.0.0.5" }, icmpType: 8, icmpCode: 0 }),
      "ip daddr 10.0.0.1-10.0.0.5 meta l4proto icmp icmp type 8 icmp code 0");
    assert.equal(netOutMatch({ protocol: "all", log: false, network: { kind: "address", address: "10.0.0.1" } }), "ip daddr 10.0.0.1");
  });

  it("puts NetOut rules in the container's chain, reached through the dispatch map, logged when asked", () => {
    const script = netOutScript("warden", "1j1cdsetukg", { protocol: "tcp", log: true, ports: { from: 80, to: 80 } });
    assert.match(script, /add element inet warden dispatch \{ "w-1j1cdsetukg-0" : jump warden-i-1j1cdsetukg \}/);
    assert.match(script, /add rule inet warden warden-i-1j1cdsetukg meta l4proto tcp tcp dport 80 log prefix "warden-i-1j1cdsetukg " accept/);
  });

  it("removes a container's part whether or not it exists (add before delete)", () => {
    const script = removeScript("warden", "1j1cdsetukg", [{ hostPort: 61001, containerPort: 80, containerIp: "10.254.0.2" }]);
    const lines = script.trim().split("\n");
    assert.ok(lines.indexOf("add chain inet warden warden-i-1j1cdsetukg") < lines.indexOf("delete chain inet warden warden-i-1j1cdsetukg"));
    assert.ok(lines.includes("delete element inet warden netin { 61001 }"));
  });

  it("knows its own names", () => {
    assert.equal(idOfInterface("w-1j1cdsetukg-2"), "1j1cdsetukg");
    assert.equal(idOfInterface("w-abc-0"), undefined);
    assert.equal(idOfChain("warden-i-1j1cdsetukg"), "1j1cdsetukg");
    assert.equal(idOfChain("forward"), undefined);
  });
});

describe("resolv.conf", () => {
  it("writes a container's own servers, search domains and options as given", () => {
    assert.equal(dnsResolvConf({ servers: ["10.10.10.10"], searches: ["google.com", "svc"], options: ["ndots:8"] }), "nameserver 10.10.10.10\nsearch google.com svc\noptions ndots:8\n");
    assert.equal(dnsResolvConf({ servers: [], searches: [], options: [] }), "");
  });
  it("uses the configured DNS servers", () => {
    assert.equal(resolvConf("nameserver 1.1.1.1\n", ["8.8.8.8", "8.8.4.4"], "10.254.0.1"), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  });

  it("copies the host's, with a loopback resolver replaced by the gateway", () => {
    assert.equal(resolvConf("nameserver 127.0.0.1\n", [], "10.254.0.1"), "nameserver 10.254.0.1\n");
    assert.equal(resolvConf("search corp\nnameserver 127.0.0.53\noptions edns0\n", [], "10.254.0.5"),
      "search corp\nnameserver 10.254.0.5\noptions edns0\n");
    assert.equal(resolvConf("nameserver 10.0.0.2\n", [], "10.254.0.1"), "nameserver 10.0.0.2\n");
  });
});

describe("tc", () => {
  it("reads rate and burst of the root tbf, and Warden's 4294967295 without one", () => {
    const out = '[{"kind":"tbf","handle":"8001:","root":true,"options":{"rate":1000000,"burst":65536,"lat":25000}},{"kind":"ingress","handle":"ffff:"}]\n[{"kind":"noqueue","handle":"0:","root":true}]\n';
    assert.deepEqual(parseTbf(out), [{ rate: 1000000, burst: 65536 }, { rate: UNLIMITED, burst: UNLIMITED }]);
  });
});
