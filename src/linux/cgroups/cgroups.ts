// The container's cgroup as the runtime made it (linux.cgroupsPath =
// /<parent>/<id>): which processes it holds, and a freezer so that killing
// them all cannot race with a fork.
import { readFile, readdir, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readMountInfo } from "../mountinfo.js";

export interface ContainerCgroups {
  procs(id: string): Promise<number[]>;
  freeze(id: string): Promise<void>;
  thaw(id: string): Promise<void>;
  /** Removes the parent cgroup in every hierarchy once it is empty. */
  removeParent(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FREEZE_TIMEOUT_MS = 2000;

export function parseProcs(text: string): number[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => Number(l));
}

async function readProcs(file: string): Promise<number[]> {
  try {
    return parseProcs(await readFile(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

async function rmdirIfPresent(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") throw err;
  }
}

/** cgroup v1: one hierarchy per controller under <root>/<controller>. */
export class CgroupsV1 implements ContainerCgroups {
  constructor(
    private readonly parent: string,
    private readonly root = "/sys/fs/cgroup",
  ) {}

  private dir(controller: string, id: string): string {
    return join(this.root, controller, this.parent, id);
  }

  procs(id: string): Promise<number[]> {
    return readProcs(join(this.dir("memory", id), "cgroup.procs"));
  }

  async freeze(id: string): Promise<void> {
    const state = join(this.dir("freezer", id), "freezer.state");
    await writeFile(state, "FROZEN");
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    while ((await readFile(state, "utf8")).trim() !== "FROZEN") {
      if (Date.now() > deadline) throw new Error(`cgroup of ${id} did not freeze`);
      await sleep(2);
    }
  }

  async thaw(id: string): Promise<void> {
    await writeFile(join(this.dir("freezer", id), "freezer.state"), "THAWED");
  }

  async removeParent(): Promise<void> {
    for (const controller of await readdir(this.root)) {
      await rmdirIfPresent(join(this.root, controller, this.parent));
    }
  }
}

/** cgroup v2: one unified hierarchy. */
export class CgroupsV2 implements ContainerCgroups {
  constructor(
    private readonly parent: string,
    private readonly root = "/sys/fs/cgroup",
  ) {}

  private dir(id: string): string {
    return join(this.root, this.parent, id);
  }

  procs(id: string): Promise<number[]> {
    return readProcs(join(this.dir(id), "cgroup.procs"));
  }

  async freeze(id: string): Promise<void> {
    await writeFile(join(this.dir(id), "cgroup.freeze"), "1");
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    while (!/^frozen 1$/m.test(await readFile(join(this.dir(id), "cgroup.events"), "utf8"))) {
      if (Date.now() > deadline) throw new Error(`cgroup of ${id} did not freeze`);
      await sleep(2);
    }
  }

  async thaw(id: string): Promise<void> {
    await writeFile(join(this.dir(id), "cgroup.freeze"), "0");
  }

  async removeParent(): Promise<void> {
    await rmdirIfPresent(join(this.root, this.parent));
  }
}

/** v2 when /sys/fs/cgroup itself is cgroup2; otherwise the v1 controllers (hybrid or legacy). */
export async function detectCgroups(parent: string): Promise<ContainerCgroups> {
  const mounts = await readMountInfo();
  const root = mounts.filter((m) => m.mountPoint === "/sys/fs/cgroup").pop();
  return root?.fsType === "cgroup2" ? new CgroupsV2(parent) : new CgroupsV1(parent);
}
