import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { NamespacedLinks } from "../../../../src/linux/network/links.js";
import { RecordingRunner } from "../../../fakes/commands.js";

const ID = "1j1cdsetukg";
const network = { subnet: "10.254.0.4/30", hostIp: "10.254.0.5", containerIp: "10.254.0.6" };

describe("namespaced links", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "wlinks-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  it("makes the namespace pinned to a file with its end of a veth pair, the host's end in one ip batch, without IPv6", async () => {
    const commands = new RecordingRunner();
    const links = new NamespacedLinks(join(dir, "netns"), 1400, commands);
    const attachment = await links.create(ID, network);
    const pin = join(dir, "netns", ID);
    assert.deepEqual(attachment, { network: pin });
    assert.ok(existsSync(pin), "the pin file is made for unshare to mount on");
    const [inside, host] = commands.calls;
    assert.deepEqual(inside.argv.slice(0, 4), ["unshare", `--net=${pin}`, "sh", "-c"]);
    assert.equal(
      inside.input,
      `link add w-${ID}-1 mtu 1400 type veth peer name w-${ID}-0 mtu 1400 netns /proc/${process.pid}/ns/net\n` +
        `link set lo up\nlink set w-${ID}-1 addrgenmode none\naddr add 10.254.0.6/30 dev w-${ID}-1\nlink set w-${ID}-1 up\nroute add default via 10.254.0.5\n`,
    );
    assert.deepEqual(host.argv, ["ip", "-batch", "-"]);
    assert.equal(host.input, `link set w-${ID}-0 addrgenmode none\naddr add 10.254.0.5/30 dev w-${ID}-0\nlink set w-${ID}-0 up\n`);
  });

  it("makes a user namespace's network with warden-netns in one program: pins, map, the host's batch and the inside's", async () => {
    const commands = new RecordingRunner();
    const links = new NamespacedLinks(join(dir, "netns"), 1500, commands, { map: { hostId: 1e9, size: 65536 }, dir: join(dir, "userns"), helper: "/bin/warden-netns" });
    const attachment = await links.create(ID, network);
    const [pin, userPin] = [join(dir, "netns", ID), join(dir, "userns", ID)];
    assert.deepEqual(attachment, { network: pin, user: userPin });
    assert.ok(existsSync(pin) && existsSync(userPin), "the pin files are there to mount on");
    assert.equal(commands.calls.length, 1);
    const { argv } = commands.calls[0];
    assert.deepEqual(argv.slice(0, 6), ["/bin/warden-netns", userPin, pin, "1000000000", "65536", "65535"]);
    assert.equal(
      argv[6],
      `link add w-${ID}-0 mtu 1500 type veth peer name w-${ID}-1 mtu 1500 netns ${pin}\n` +
        `link set w-${ID}-0 addrgenmode none\naddr add 10.254.0.5/30 dev w-${ID}-0\nlink set w-${ID}-0 up\n`,
    );
    assert.equal(argv[7], `link set lo up\nlink set w-${ID}-1 addrgenmode none\naddr add 10.254.0.6/30 dev w-${ID}-1\nlink set w-${ID}-1 up\nroute add default via 10.254.0.5\n`);
  });

  it("makes a container's user namespace with its own map when it has one, also on a daemon without a map of its own", async () => {
    const commands = new RecordingRunner();
    const links = new NamespacedLinks(join(dir, "own", "netns"), 1500, commands, { dir: join(dir, "own", "userns"), helper: "/bin/warden-netns" });
    await links.create(ID, network, false, { hostId: 300000, size: 65536 });
    assert.deepEqual(commands.calls[0].argv.slice(0, 6), ["/bin/warden-netns", join(dir, "own", "userns", ID), join(dir, "own", "netns", ID), "300000", "65536", "65535"]);
    // No map of the daemon's: a container without one of its own gets no user namespace.
    await links.create("1j1cdsetuk0", network);
    assert.equal(commands.calls[1].argv[0], "unshare");
    await assert.rejects(new NamespacedLinks(join(dir, "own", "netns"), 1500, commands).create("1j1cdsetuk1", network, false, { hostId: 300000, size: 65536 }), { code: "INVALID_REQUEST" });
  });

  it("removes the interfaces and the pins in one shell, and lists what is pinned", async () => {
    const commands = new RecordingRunner();
    const links = new NamespacedLinks(join(dir, "netns"), 1500, commands, { map: { hostId: 1e9, size: 65536 }, dir: join(dir, "userns"), helper: "/bin/warden-netns" });
    await writeFile(join(dir, "netns", "00000000zzz"), "");
    assert.deepEqual((await links.pinned()).sort(), ["00000000zzz", ID]);
    await links.destroy(ID);
    const [call] = commands.calls;
    assert.deepEqual(call.argv.slice(0, 3), ["sh", "-c", call.argv[2]]);
    assert.deepEqual(call.argv.slice(4), [`w-${ID}-0`, `w-${ID}-2`, join(dir, "netns", ID), join(dir, "userns", ID)]);
    assert.equal(existsSync(join(dir, "netns", ID)), false);
    assert.deepEqual(await links.pinned(), ["00000000zzz"]);
  });
});
