// The container's side of the network, in a namespace of its own pinned to a
// file: a veth pair, `w-<id>-0` on the host and `w-<id>-1` inside, with the
// /30's addresses and a default route through the host. Two `ip -batch`
// runs: one born inside the new namespace (unshare), one on the host.
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errors } from "../../core/errors.js";
import type { ContainerNetwork, NetworkAttachment } from "../../core/interfaces/network.js";
import type { CommandRunner } from "../command.js";
import type { IdMap } from "../security/id-map.js";
import { containerInterface, hostInterface, ifbInterface } from "./names.js";

export class NamespacedLinks {
  constructor(
    /** Where namespaces are pinned, one file per container id. */
    readonly netnsDir: string,
    private readonly mtu: number,
    private readonly commands: CommandRunner,
    /**
     * Containers in a user namespace (the daemon's map, or one of their
     * own): their network namespace is made inside it, so that the
     * container's own sysfs and privileged ports work, and both are pinned
     * (the user namespace in dir).
     */
    private readonly userns?: { map?: IdMap; dir: string; helper: string },
  ) {}

  pinOf(id: string): string {
    return join(this.netnsDir, id);
  }

  userPinOf(id: string): string | undefined {
    return this.userns ? join(this.userns.dir, id) : undefined;
  }

  /** A privileged container's namespace is made without a user namespace, as when there is none; `own`: in one with that map. */
  async create(id: string, network: ContainerNetwork, privileged = false, own?: IdMap): Promise<NetworkAttachment> {
    const map = privileged ? undefined : (own ?? this.userns?.map);
    if (map && !this.userns) throw errors.invalid("this daemon makes no user namespaces (it was not given warden-netns)");
    const pin = this.pinOf(id);
    await mkdir(this.netnsDir, { recursive: true });
    await writeFile(pin, "");
    const inside = containerInterface(id);
    const outside = hostInterface(id);
    const prefix = network.subnet.split("/")[1];
    // IPv6 is off on both ends (no link-local address): the firewall speaks IPv4.
    const insideBatch = [
      "link set lo up",
      `link set ${inside} addrgenmode none`,
      `addr add ${network.containerIp}/${prefix} dev ${inside}`,
      `link set ${inside} up`,
      `route add default via ${network.hostIp}`,
      "",
    ].join("\n");
    const hostBatch = [
      `link set ${outside} addrgenmode none`,
      `addr add ${network.hostIp}/${prefix} dev ${outside}`,
      `link set ${outside} up`,
      "",
    ].join("\n");
    if (map) return this.createInUserNamespace(id, pin, map, inside, outside, insideBatch, hostBatch);
    await this.commands.run(["unshare", `--net=${pin}`, "sh", "-c", NETNS_SCRIPT, "sh"], {
      input: `link add ${inside} mtu ${this.mtu} type veth peer name ${outside} mtu ${this.mtu} netns /proc/${process.pid}/ns/net\n${insideBatch}`,
    });
    await this.commands.run(["ip", "-batch", "-"], { input: hostBatch });
    return { network: pin };
  }

  // warden-netns (src/shim/warden-netns.c) makes, maps and pins both
  // namespaces and runs both batches, in one program; groups are counted in
  // the namespace (its last gid is the map's size less one).
  private async createInUserNamespace(
    id: string,
    pin: string,
    map: IdMap,
    inside: string,
    outside: string,
    insideBatch: string,
    hostBatch: string,
  ): Promise<NetworkAttachment> {
    const { dir, helper } = this.userns!;
    const userPin = join(dir, id);
    await mkdir(dir, { recursive: true });
    await writeFile(userPin, "");
    const hostLinks = `link add ${outside} mtu ${this.mtu} type veth peer name ${inside} mtu ${this.mtu} netns ${pin}\n${hostBatch}`;
    await this.commands.run([helper, userPin, pin, String(map.hostId), String(map.size), String(map.size - 1), hostLinks, insideBatch]);
    return { network: pin, user: userPin };
  }

  /**
   * Deletes the interfaces (at once: with the namespace they would go only
   * asynchronously) and unpins the namespaces, in one shell to save a spawn.
   * A missing interface or pin is fine: removal is idempotent.
   */
  async destroy(id: string): Promise<void> {
    const pin = this.pinOf(id);
    const userPin = this.userPinOf(id) ?? "";
    await this.commands.run(["sh", "-c", DESTROY_SCRIPT, "sh", hostInterface(id), ifbInterface(id), pin, userPin]);
    await rm(pin, { force: true });
    if (userPin) await rm(userPin, { force: true });
  }

  /** Ids that have a namespace pinned. */
  async pinned(): Promise<string[]> {
    const ids = new Set<string>();
    for (const dir of [this.netnsDir, this.userns?.dir]) {
      if (!dir) continue;
      try {
        for (const name of await readdir(dir)) ids.add(name);
      } catch {
        // none yet
      }
    }
    return [...ids];
  }
}

// Run in the new namespace, before its links are made. ICMP echo sockets
// for every group: ping works without CAP_NET_RAW, which no job has.
const NETNS_SCRIPT = `
echo "0 2147483647" > /proc/sys/net/ipv4/ping_group_range || exit 1
exec ip -batch -
`;

// $1 host veth, $2 ifb, $3 network namespace pin, $4 user namespace pin or "". Fails only on a failure other than "not there".
const DESTROY_SCRIPT = `
for link in "$1" "$2"; do
  if [ -e "/sys/class/net/$link" ]; then ip link del "$link" || exit 1; fi
done
for pin in "$3" "$4"; do
  if [ -n "$pin" ] && mountpoint -q "$pin"; then umount "$pin" || exit 1; fi
done
exit 0
`;
