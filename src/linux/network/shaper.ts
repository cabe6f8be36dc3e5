// Bandwidth limits, as Warden's net_rate.sh set them: a token bucket (tbf)
// on the host veth for traffic into the container, and for traffic out of
// it the veth's ingress redirected (mirred) to an ifb device `w-<id>-2`
// with its own tbf. This kernel has no tc police; ifb works.
import { existsSync } from "node:fs";
import type { BandwidthLimit, BandwidthStat } from "../../core/interfaces/network.js";
import type { CommandRunner } from "../command.js";
import { hostInterface, ifbInterface } from "./names.js";

export const UNLIMITED = 4294967295;

interface TcQdisc {
  kind: string;
  root?: boolean;
  options?: { rate?: number; burst?: number };
}

export class Shaper {
  constructor(
    private readonly mtu: number,
    private readonly commands: CommandRunner,
  ) {}

  async limit(id: string, limit: BandwidthLimit): Promise<void> {
    const veth = hostInterface(id);
    const ifb = ifbInterface(id);
    const first = !existsSync(`/sys/class/net/${ifb}`);
    if (first) {
      await this.commands.run(["ip", "-batch", "-"], { input: `link add ${ifb} mtu ${this.mtu} type ifb\nlink set ${ifb} up\n` });
    }
    const tbf = `tbf rate ${limit.rate * 8}bit burst ${limit.burst} latency 25ms`;
    await this.commands.run(["tc", "-batch", "-"], {
      input: [
        `qdisc replace dev ${veth} root ${tbf}`,
        `qdisc replace dev ${ifb} root ${tbf}`,
        ...(first
          ? [
              `qdisc add dev ${veth} ingress handle ffff:`,
              `filter add dev ${veth} parent ffff: protocol ip u32 match ip src 0.0.0.0/0 action mirred egress redirect dev ${ifb}`,
            ]
          : []),
        "",
      ].join("\n"),
    });
  }

  async stat(id: string): Promise<BandwidthStat> {
    const { stdout } = await this.commands.run(["tc", "-j", "-batch", "-"], {
      input: `qdisc show dev ${hostInterface(id)}\nqdisc show dev ${ifbInterface(id)}\n`,
      okCodes: [1],
    });
    const [into, out] = parseTbf(stdout);
    return { inRate: into.rate, inBurst: into.burst, outRate: out.rate, outBurst: out.burst };
  }
}

/** The root tbf's rate (bytes/s) and burst of each JSON array `tc -j -batch` printed. */
export function parseTbf(output: string): Array<{ rate: number; burst: number }> {
  const arrays = output
    .split("\n")
    .filter((l) => l.trim().startsWith("["))
    .map((l) => JSON.parse(l) as TcQdisc[]);
  const pick = (qdiscs: TcQdisc[] | undefined) => {
    const tbf = qdiscs?.find((q) => q.kind === "tbf" && q.root);
    return { rate: tbf?.options?.rate ?? UNLIMITED, burst: tbf?.options?.burst ?? UNLIMITED };
  };
  return [pick(arrays[0]), pick(arrays[1])];
}
