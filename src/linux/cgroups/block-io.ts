// Block I/O of a cgroup, per device, as the kernel counts it: cgroup v1's
// blkio.throttle.io_service_bytes_recursive and io_serviced_recursive
// ("8:0 Read 4096" lines, a Total per device and one overall), or v2's
// io.stat ("8:0 rbytes=4096 wbytes=0 rios=1 wios=0 ...").
import { readFile, readlink } from "node:fs/promises";
import { basename } from "node:path";
import type { BlockIoStats } from "../../core/interfaces/limits.js";

type Counts = Omit<BlockIoStats, "major" | "minor" | "device">;

const key = (dev: string) => dev.split(":").map(Number) as [number, number];

export function parseBlkioV1(bytes: string, serviced: string): Array<Omit<BlockIoStats, "device">> {
  const devices = new Map<string, Counts>();
  const entry = (dev: string) => {
    let counts = devices.get(dev);
    if (!counts) devices.set(dev, (counts = { readBytes: 0n, writeBytes: 0n, reads: 0n, writes: 0n }));
    return counts;
  };
  const fields: Array<[string, "readBytes" | "writeBytes" | "reads" | "writes", string]> = [
    [bytes, "readBytes", "Read"],
    [bytes, "writeBytes", "Write"],
    [serviced, "reads", "Read"],
    [serviced, "writes", "Write"],
  ];
  for (const [text, field, op] of fields) {
    for (const line of text.split("\n")) {
      const [dev, what, value] = line.trim().split(/\s+/);
      if (!/^\d+:\d+$/.test(dev ?? "") || what !== op || !/^\d+$/.test(value ?? "")) continue;
      entry(dev)[field] = BigInt(value);
    }
  }
  return [...devices].map(([dev, counts]) => ({ major: key(dev)[0], minor: key(dev)[1], ...counts }));
}

export function parseIoStat(text: string): Array<Omit<BlockIoStats, "device">> {
  const out: Array<Omit<BlockIoStats, "device">> = [];
  for (const line of text.split("\n")) {
    const [dev, ...pairs] = line.trim().split(/\s+/);
    if (!/^\d+:\d+$/.test(dev ?? "")) continue;
    const values = new Map(pairs.map((p) => p.split("=") as [string, string]));
    const n = (name: string) => (/^\d+$/.test(values.get(name) ?? "") ? BigInt(values.get(name)!) : 0n);
    out.push({ major: key(dev)[0], minor: key(dev)[1], readBytes: n("rbytes"), writeBytes: n("wbytes"), reads: n("rios"), writes: n("wios") });
  }
  return out;
}

/** Devices with their names as /dev has them (/sys/dev/block/M:m links to the device's directory); "" when unknown. */
export async function named(devices: Array<Omit<BlockIoStats, "device">>, sys = "/sys"): Promise<BlockIoStats[]> {
  return Promise.all(
    devices.map(async (d) => {
      const link = await readlink(`${sys}/dev/block/${d.major}:${d.minor}`).catch(() => "");
      return { ...d, device: link ? `/dev/${basename(link)}` : "" };
    }),
  );
}

export const readOrEmpty = (file: string) => readFile(file, "utf8").catch(() => "");
