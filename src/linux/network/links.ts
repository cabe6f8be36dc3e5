// The container's side of the network, in a namespace of its own pinned to a
// file: a veth pair, `w-<id>-0` on the host and `w-<id>-1` inside, with the
// /30's addresses and a default route through the host. Two `ip -batch`
// runs: one born inside the new namespace (unshare), one on the host.
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ContainerNetwork } from "../../core/interfaces.js";
import { run } from "../command.js";
import { containerInterface, hostInterface, ifbInterface } from "./names.js";

export class NamespacedLinks {
  constructor(
    /** Where namespaces are pinned, one file per container id. */
    readonly netnsDir: string,
    private readonly mtu: number,
  ) {}

  pinOf(id: string): string {
    return join(this.netnsDir, id);
  }

  async create(id: string, network: ContainerNetwork): Promise<string> {
    const pin = this.pinOf(id);
    await mkdir(this.netnsDir, { recursive: true });
    await writeFile(pin, "");
    const inside = containerInterface(id);
    const outside = hostInterface(id);
    const prefix = network.subnet.split("/")[1];
    // IPv6 is off on both ends (no link-local address): the firewall speaks IPv4.
    await run(["unshare", `--net=${pin}`, "ip", "-batch", "-"], {
      input: [
        "link set lo up",
        `link add ${inside} mtu ${this.mtu} type veth peer name ${outside} mtu ${this.mtu} netns /proc/${process.pid}/ns/net`,
        `link set ${inside} addrgenmode none`,
        `addr add ${network.containerIp}/${prefix} dev ${inside}`,
        `link set ${inside} up`,
        `route add default via ${network.hostIp}`,
        "",
      ].join("\n"),
    });
    await run(["ip", "-batch", "-"], {
      input: [
        `link set ${outside} addrgenmode none`,
        `addr add ${network.hostIp}/${prefix} dev ${outside}`,
        `link set ${outside} up`,
        "",
      ].join("\n"),
    });
    return pin;
  }

  /**
   * Deletes the interfaces (at once: with the namespace they would go only
   * asynchronously) and unpins the namespace, in one shell to save a spawn.
   * A missing interface or pin is fine: removal is idempotent.
   */
  async destroy(id: string): Promise<void> {
    const pin = this.pinOf(id);
    await run(["sh", "-c", DESTROY_SCRIPT, "sh", hostInterface(id), ifbInterface(id), pin]);
    await rm(pin, { force: true });
  }

  /** Ids that have a namespace pinned. */
  async pinned(): Promise<string[]> {
    try {
      return await readdir(this.netnsDir);
    } catch {
      return [];
    }
  }
}

// $1 host veth, $2 ifb, $3 namespace pin. Fails only on a failure other than "not there".
const DESTROY_SCRIPT = `
for link in "$1" "$2"; do
  if [ -e "/sys/class/net/$link" ]; then ip link del "$link" || exit 1; fi
done
if mountpoint -q "$3"; then umount "$3" || exit 1; fi
exit 0
`;
