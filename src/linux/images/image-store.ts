// The image store in the depot: each layer unpacked once, named by the
// digest of its blob (checked as it was fetched) and the id map it was
// shifted into, and shared read-only by every container of every image that
// has it. On disk, under <depot>/.images:
//
//   l/<16 hex>           an unpacked layer, whole (made under tmp/, then renamed)
//   images/<key>.json    an image: its name, manifest digest, layers and configuration
//   holds/<container>    the image a container uses, with its layers
//   tmp/                 layers being unpacked as they download; emptied at start
//
// Layer directories have short names so the overlay's option string, which
// the kernel takes in one page, holds many of them. Very deep images have
// their lowest layers flattened into one.
import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreError, errors } from "../../core/errors.js";
import { imageName, type ImageReference } from "../../core/images/reference.js";
import type { Image, ImageConfig, ImageCredentials, ImageStore, ImageSummary, PullProgress } from "../../core/interfaces/image-store.js";
import type { Logger } from "../../core/interfaces/logger.js";
import type { CommandRunner } from "../command.js";
import { diskUsage } from "../fs/disk-usage.js";
import { parseMountInfo } from "../mountinfo.js";
import type { IdMap } from "../security/id-map.js";
import { checkLayers, parseImageConfig } from "./image-config.js";
import { OUT_OF_SPACE, unpackLayer } from "./layer-unpack.js";
import { hostPlatform, type Descriptor, type RegistryClient } from "./registry-client.js";
import { openSource, type ImageSource } from "./sources.js";

export type StoredReference = Exclude<ImageReference, { kind: "directory" }>;

export interface ImageStoreOptions {
  /** <depot>/.images */
  root: string;
  registry: RegistryClient;
  commands: CommandRunner;
  log: Logger;
  /** Containers' user namespace: layers are shifted into it once. */
  idMap?: IdMap;
  /** Most layers stacked as they are; the lowest of a deeper image are flattened into one. */
  maxLayers?: number;
  /** Layers fetched at once. */
  concurrency?: number;
}

interface LayerEntry {
  digest: string;
  /** Bytes of the blob as fetched. */
  size: number;
  /** The directory's name under l/. */
  dir: string;
}

interface ImageRecord {
  version: 1;
  name: string;
  id: string;
  layers: LayerEntry[];
  /** What is stacked, lowest first: the layers, or a flattened one and the rest. */
  stack: string[];
  config: ImageConfig;
  pulledAt: number;
}

interface Hold {
  key: string;
  name: string;
  stack: string[];
}

// Images with more layers than this are refused: nobody builds them, and each costs a mount's worth of work.
const MAX_IMAGE_LAYERS = 1000;
const DEFAULT_MAX_LAYERS = 120;
const PROGRESS_EVERY_MS = 250;
const LOG_PROGRESS_EVERY_MS = 5000;

const hash = (...parts: string[]) => createHash("sha256").update(parts.join("\0")).digest("hex");

export class LinuxImageStore implements ImageStore {
  private readonly layersDir: string;
  private readonly imagesDir: string;
  private readonly holdsDir: string;
  private readonly tmpDir: string;
  private readonly maxLayers: number;
  private readonly concurrency: number;
  /** Images being fetched, by key: a second acquire waits for the first. */
  private readonly pulling = new Map<string, Promise<ImageRecord>>();
  /** Layers being made, by directory name. */
  private readonly making = new Map<string, Promise<void>>();
  /** Layers a fetch under way relies on: not to be pruned under it. */
  private readonly pinned = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private started: Promise<void> | undefined;
  private dirsMade: Promise<void> | undefined;

  constructor(private readonly options: ImageStoreOptions) {
    this.layersDir = join(options.root, "l");
    this.imagesDir = join(options.root, "images");
    this.holdsDir = join(options.root, "holds");
    this.tmpDir = join(options.root, "tmp");
    this.maxLayers = Math.max(2, options.maxLayers ?? DEFAULT_MAX_LAYERS);
    this.concurrency = Math.max(1, options.concurrency ?? 4);
  }

  /** Directory of the layers, for mounting them by their short names. */
  get layerRoot(): string {
    return this.layersDir;
  }

  async acquire(
    ref: StoredReference,
    holder: string,
    options: { credentials?: ImageCredentials; onProgress?: (p: PullProgress) => void; privileged?: boolean } = {},
  ): Promise<Image> {
    await this.start();
    const name = imageName(ref);
    // A privileged container has no user namespace: its layers keep their owners.
    const mapping = options.privileged ? undefined : this.options.idMap;
    const key = this.keyOf(name, mapping);
    // What is in the store is used as it is, as Garden and Podman do; `pull` asks the source again.
    const record = (await this.readRecord(key)) ?? (await this.fetchOnce(ref, key, mapping, false, options));
    await this.makeDirs();
    await this.serial(async () => {
      // Pruned between the fetch and now: the layers it names may be gone.
      const stack = await this.present(record.stack);
      if (!stack) throw errors.imageNotFound(name, "it was removed while being pulled; try again");
      const hold: Hold = { key, name: record.name, stack: record.stack };
      await this.atomicWrite(join(this.holdsDir, holder), JSON.stringify(hold));
    });
    return this.toImage(record);
  }

  async pull(ref: StoredReference, options: { credentials?: ImageCredentials; onProgress?: (p: PullProgress) => void } = {}): Promise<Image> {
    await this.start();
    const name = imageName(ref);
    const mapping = this.options.idMap;
    return this.toImage(await this.fetchOnce(ref, this.keyOf(name, mapping), mapping, true, options));
  }

  async release(holder: string): Promise<void> {
    await this.start();
    await this.serial(() => rm(join(this.holdsDir, holder), { force: true }));
  }

  async reconcile(live: ReadonlySet<string>): Promise<void> {
    await this.start();
    await this.serial(async () => {
      for (const holder of await names(this.holdsDir)) {
        if (!live.has(holder)) {
          await rm(join(this.holdsDir, holder), { force: true });
          this.options.log.info({ holder }, "image hold of a container that is gone released");
        }
      }
    });
  }

  async list(): Promise<ImageSummary[]> {
    await this.start();
    const holds = await this.readHolds();
    // An image kept for containers with and without a user namespace is one image: one entry, every holder.
    const byName = new Map<string, ImageSummary>();
    for (const [key, record] of await this.readRecords()) {
      const holders = [...holds].filter(([, h]) => h.key === key).map(([holder]) => holder);
      const seen = byName.get(record.name);
      if (seen) {
        seen.holders.push(...holders);
        continue;
      }
      byName.set(record.name, {
        name: record.name,
        id: record.id,
        size: record.layers.reduce((n, l) => n + l.size, 0),
        holders,
        ...(record.config.user ? { user: record.config.user } : {}),
      });
    }
    return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async remove(name: string): Promise<void> {
    await this.start();
    await this.serial(async () => {
      // The image as containers with and without a user namespace have it: one name, both go.
      const keys: string[] = [];
      for (const mapping of new Set([this.options.idMap, undefined])) {
        const key = this.keyOf(name, mapping);
        if (await this.readRecord(key)) keys.push(key);
      }
      if (keys.length === 0) throw errors.imageNotFound(name, "it is not in the store");
      const holders = [...(await this.readHolds())].filter(([, h]) => keys.includes(h.key)).map(([holder]) => holder);
      if (holders.length > 0) throw errors.imageInUse(name, holders);
      for (const key of keys) await rm(join(this.imagesDir, `${key}.json`), { force: true });
      const bytes = await this.removeUnusedLayers();
      this.options.log.info({ image: name, bytes }, "image removed");
    });
  }

  async prune(): Promise<{ images: string[]; bytes: number }> {
    await this.start();
    return this.serial(async () => {
      const held = new Set([...(await this.readHolds()).values()].map((h) => h.key));
      const removed: string[] = [];
      for (const [key, record] of await this.readRecords()) {
        if (held.has(key) || this.pulling.has(key)) continue;
        await rm(join(this.imagesDir, `${key}.json`), { force: true });
        removed.push(record.name);
      }
      const bytes = await this.removeUnusedLayers();
      this.options.log.info({ images: removed, bytes }, "images pruned");
      return { images: removed, bytes };
    });
  }

  // --- fetching

  private fetchOnce(
    ref: StoredReference,
    key: string,
    mapping: IdMap | undefined,
    refresh: boolean,
    options: { credentials?: ImageCredentials; onProgress?: (p: PullProgress) => void },
  ): Promise<ImageRecord> {
    let pending = this.pulling.get(key);
    if (!pending) {
      pending = this.fetch(ref, key, mapping, refresh, options);
      this.pulling.set(key, pending);
      const done = () => this.pulling.delete(key);
      pending.then(done, done);
    }
    return pending;
  }

  private async fetch(ref: StoredReference, key: string, mapping: IdMap | undefined, refresh: boolean, options: { credentials?: ImageCredentials; onProgress?: (p: PullProgress) => void }): Promise<ImageRecord> {
    if (!refresh) {
      const cached = await this.readRecord(key);
      if (cached) return cached;
    }
    let name = imageName(ref);
    const log = this.options.log.child({ image: name });
    const started = Date.now();
    await this.makeDirs();
    const source = await openSource(ref, { registry: this.options.registry, commands: this.options.commands, scratch: this.tmpDir }, options.credentials);
    // An archive's name says its format, whichever form named it.
    name = source.name;
    const pins: string[] = [];
    const made: string[] = [];
    try {
      const resolved = await source.resolve();
      if (resolved.layers.length === 0) throw errors.imageInvalid(name, "it has no layers");
      if (resolved.layers.length > MAX_IMAGE_LAYERS) throw errors.imageInvalid(name, `it has ${resolved.layers.length} layers, more than ${MAX_IMAGE_LAYERS}`);
      checkLayers(resolved.layers, name);
      const parsed = parseImageConfig(await source.config(resolved.config), name);
      if (parsed.architecture && parsed.architecture !== hostPlatform().architecture) {
        log.warn({ architecture: parsed.architecture, host: hostPlatform().architecture }, "the image is built for another architecture");
      }
      const layers: LayerEntry[] = resolved.layers.map((d) => ({ digest: d.digest, size: d.size, dir: this.layerName(d.digest, mapping) }));
      for (const l of layers) pins.push(this.pin(l.dir));
      await this.fetchLayers(source, resolved.layers, layers, name, mapping, log, made, options.onProgress);
      const stack = await this.flatten(layers.map((l) => l.dir), mapping, log, pins, made);
      const record: ImageRecord = { version: 1, name, id: resolved.id, layers, stack, config: parsed.config, pulledAt: Date.now() };
      await this.serial(() => this.atomicWrite(join(this.imagesDir, `${key}.json`), JSON.stringify(record)));
      log.info({ id: resolved.id, layers: layers.length, stacked: stack.length, ms: Date.now() - started }, "image pulled");
      return record;
    } catch (err) {
      // The store keeps nothing of a failed pull: layers it made that nothing else uses go too.
      for (const p of pins.splice(0)) this.unpin(p);
      await this.serial(() => this.removeUnusedLayers(made)).catch((e) => log.warn({ err: String(e) }, "cannot remove the layers of a failed pull"));
      log.warn({ err: String(err), ms: Date.now() - started }, "pull failed");
      throw storeError(err, this.options.root);
    } finally {
      for (const p of pins) this.unpin(p);
      await source.close().catch((err) => log.warn({ err: String(err) }, "cannot remove what was unpacked to read the image"));
    }
  }

  private async fetchLayers(
    source: ImageSource,
    descriptors: Descriptor[],
    layers: LayerEntry[],
    name: string,
    mapping: IdMap | undefined,
    log: Logger,
    made: string[],
    onProgress?: (p: PullProgress) => void,
  ): Promise<void> {
    const progress: PullProgress = { image: name, layersDone: 0, layers: layers.length, bytes: 0, totalBytes: layers.reduce((n, l) => n + l.size, 0) };
    let reported = 0;
    let logged = Date.now();
    const report = (force: boolean) => {
      // The log hears of a long pull now and then; a client asking for progress, often.
      if (Date.now() - logged >= LOG_PROGRESS_EVERY_MS) {
        logged = Date.now();
        log.info({ layersDone: progress.layersDone, layers: progress.layers, bytes: progress.bytes, totalBytes: progress.totalBytes }, "pulling");
      }
      if (!onProgress || (!force && Date.now() - reported < PROGRESS_EVERY_MS)) return;
      reported = Date.now();
      onProgress({ ...progress });
    };
    report(true);
    let next = 0;
    const worker = async () => {
      while (next < layers.length) {
        const i = next++;
        const layer = layers[i];
        const started = Date.now();
        const fresh = await this.makeLayer(source, descriptors[i], layer.dir, name, mapping, (n) => {
          progress.bytes += n;
          report(false);
        });
        progress.layersDone++;
        if (fresh) made.push(layer.dir);
        if (fresh) log.info({ digest: layer.digest, bytes: layer.size, ms: Date.now() - started }, "layer fetched");
        else progress.bytes += layer.size;
        report(true);
      }
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(this.concurrency, layers.length) }, worker));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Makes l/<dir> unless it is there; true when this call made it. */
  private async makeLayer(source: ImageSource, d: Descriptor, dir: string, name: string, mapping: IdMap | undefined, onBytes: (n: number) => void): Promise<boolean> {
    const path = join(this.layersDir, dir);
    if (await exists(path)) return false;
    let pending = this.making.get(dir);
    if (pending) {
      await pending;
      return false;
    }
    pending = (async () => {
      // Unpacked under a temporary name as it arrives, checked, then renamed: whole, or not there.
      const into = join(this.tmpDir, `${dir}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.layer`);
      try {
        await mkdir(into, { mode: 0o755 });
        const blob = await source.open(d);
        await unpackLayer(this.options.commands, blob, into, { idMap: mapping, image: name, expect: d, onBytes });
        await rename(into, path);
      } finally {
        await rm(into, { recursive: true, force: true });
      }
    })();
    this.making.set(dir, pending);
    try {
      await pending;
    } finally {
      this.making.delete(dir);
    }
    return true;
  }

  /**
   * The stack to mount, lowest first. Deeper than maxLayers: the lowest are
   * merged (through a read-only overlay of them, copied out) into one layer,
   * made once and named after the layers it holds.
   */
  private async flatten(dirs: string[], mapping: IdMap | undefined, log: Logger, pins: string[], made: string[]): Promise<string[]> {
    let stack = dirs;
    while (stack.length > this.maxLayers) {
      const take = Math.min(this.maxLayers, stack.length - this.maxLayers + 1);
      const bottom = stack.slice(0, take);
      const flat = `f${hash("flat", ...bottom, mapKeyOf(mapping)).slice(0, 15)}`;
      pins.push(this.pin(flat));
      const path = join(this.layersDir, flat);
      if (!(await exists(path))) {
        const started = Date.now();
        const unique = `${flat}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
        const mnt = join(this.tmpDir, `${unique}.mnt`);
        const into = join(this.tmpDir, `${unique}.layer`);
        await mkdir(mnt);
        await mkdir(into);
        try {
          // lowerdir lists the top first; relative names keep the option short.
          const lower = [...bottom].reverse().join(":");
          await this.options.commands.run(["mount", "-t", "overlay", "overlay", "-o", `ro,lowerdir=${lower}`, mnt], { cwd: this.layersDir });
          try {
            await this.options.commands.run(["cp", "-a", "--reflink=auto", `${mnt}/.`, into], { timeoutMs: 600_000 });
          } finally {
            await this.options.commands.run(["umount", mnt]);
          }
          await rename(into, path);
          made.push(flat);
        } finally {
          await rm(into, { recursive: true, force: true });
          await rm(mnt, { recursive: true, force: true });
        }
        log.info({ layers: bottom.length, into: flat, ms: Date.now() - started }, "lowest layers flattened");
      }
      stack = [flat, ...stack.slice(take)];
    }
    return stack;
  }

  // --- bookkeeping

  // The store is made when the first image is fetched: a daemon that never uses one leaves no trace.
  private start(): Promise<void> {
    this.started ??= (async () => {
      if (await exists(this.options.root)) await this.clearTmp();
    })();
    return this.started;
  }

  private async makeDirs(): Promise<void> {
    this.dirsMade ??= (async () => {
      for (const dir of [this.layersDir, this.imagesDir, this.holdsDir, this.tmpDir]) await mkdir(dir, { recursive: true, mode: 0o700 });
    })();
    this.dirsMade.catch(() => (this.dirsMade = undefined));
    return this.dirsMade;
  }

  /** What a daemon killed half-way left: mounts of flattening, partial downloads, half-unpacked layers. */
  private async clearTmp(): Promise<void> {
    const { stdout } = await this.options.commands.run(["cat", "/proc/self/mountinfo"]);
    const prefix = `${this.tmpDir}/`;
    for (const m of parseMountInfo(stdout)) {
      if (m.mountPoint.startsWith(prefix)) await this.options.commands.run(["umount", "-l", m.mountPoint]);
    }
    for (const entry of await names(this.tmpDir)) await rm(join(this.tmpDir, entry), { recursive: true, force: true });
    for (const entry of await names(this.layersDir)) {
      if (entry.startsWith(".")) await rm(join(this.layersDir, entry), { recursive: true, force: true });
    }
  }

  private layerName(digest: string, mapping: IdMap | undefined): string {
    return hash(digest, mapKeyOf(mapping)).slice(0, 16);
  }

  // oci-archive:F and docker-archive:F are one file, read as what it holds: one image.
  private keyOf(name: string, mapping: IdMap | undefined): string {
    return hash(name.replace(/^(oci|docker)-archive:/, "archive:"), mapKeyOf(mapping)).slice(0, 32);
  }

  private pin(dir: string): string {
    this.pinned.set(dir, (this.pinned.get(dir) ?? 0) + 1);
    return dir;
  }

  private unpin(dir: string): void {
    const n = (this.pinned.get(dir) ?? 1) - 1;
    if (n <= 0) this.pinned.delete(dir);
    else this.pinned.set(dir, n);
  }

  /** Runs `fn` after every earlier call has finished: holds, records and removals never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private async present(stack: string[]): Promise<boolean> {
    for (const dir of stack) if (!(await exists(join(this.layersDir, dir)))) return false;
    return true;
  }

  private toImage(r: ImageRecord): Image {
    return { name: r.name, id: r.id, layers: r.stack.map((d) => join(this.layersDir, d)), config: r.config };
  }

  private async readRecord(key: string): Promise<ImageRecord | undefined> {
    try {
      const r = JSON.parse(await readFile(join(this.imagesDir, `${key}.json`), "utf8")) as ImageRecord;
      if (r.version !== 1 || !Array.isArray(r.stack)) return undefined;
      // A record outlives nothing it names: a layer gone by hand makes the image fetched again.
      return (await this.present(r.stack)) ? r : undefined;
    } catch {
      return undefined;
    }
  }

  private async readRecords(): Promise<Map<string, ImageRecord>> {
    const out = new Map<string, ImageRecord>();
    for (const file of await names(this.imagesDir)) {
      if (!file.endsWith(".json")) continue;
      try {
        const r = JSON.parse(await readFile(join(this.imagesDir, file), "utf8")) as ImageRecord;
        if (r.version === 1) out.set(file.slice(0, -".json".length), r);
      } catch {
        // A torn record is impossible (written by rename); anything else is not ours.
      }
    }
    return out;
  }

  private async readHolds(): Promise<Map<string, Hold>> {
    const out = new Map<string, Hold>();
    for (const holder of await names(this.holdsDir)) {
      try {
        out.set(holder, JSON.parse(await readFile(join(this.holdsDir, holder), "utf8")) as Hold);
      } catch {
        // skipped
      }
    }
    return out;
  }

  /** Layers (of `among`, or all) no image, hold or fetch under way names; returns the bytes they took. */
  private async removeUnusedLayers(among?: string[]): Promise<number> {
    const used = new Set(this.pinned.keys());
    for (const r of (await this.readRecords()).values()) for (const d of [...r.stack, ...r.layers.map((l) => l.dir)]) used.add(d);
    for (const h of (await this.readHolds()).values()) for (const d of h.stack) used.add(d);
    let bytes = 0;
    for (const dir of among ?? (await names(this.layersDir))) {
      if (used.has(dir)) continue;
      bytes += await diskUsage(join(this.layersDir, dir));
      await rm(join(this.layersDir, dir), { recursive: true, force: true });
    }
    return bytes;
  }

  private async atomicWrite(path: string, text: string): Promise<void> {
    const temp = `${path}.tmp-${process.pid}`;
    await writeFile(temp, text, { mode: 0o600 });
    await rename(temp, path);
  }
}

/** Layers and images are kept per id map they are shifted into ("host": not shifted). */
function mapKeyOf(mapping: IdMap | undefined): string {
  return mapping ? `${mapping.hostId}+${mapping.size}` : "host";
}

/** Running out of disk, wherever in a pull, is said as such. */
function storeError(err: unknown, root: string): unknown {
  if (err instanceof CoreError) return err;
  const text = err instanceof Error ? err.message : String(err);
  if (OUT_OF_SPACE.test(text) || (err as NodeJS.ErrnoException)?.code === "ENOSPC") return errors.noSpace(root, text, err);
  return err;
}

async function names(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => !n.includes(".tmp-"));
  } catch {
    return [];
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

