// Where an image's manifest and blobs come from: a registry, an OCI image
// layout directory, or an archive (an OCI layout in a tar, or what `docker
// save` and `podman save` write). Each says what the image is made of and
// copies its blobs to the store, checked against their digests.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { CoreError, errors } from "../../core/errors.js";
import { imageName, isDigest, type ImageReference, type RegistryImage } from "../../core/images/reference.js";
import type { ImageCredentials } from "../../core/interfaces/image-store.js";
import type { CommandRunner } from "../command.js";
import { OUT_OF_SPACE } from "./layer-unpack.js";
import { MEDIA_TYPES, type Descriptor, type RegistryClient, type Source } from "./registry-client.js";

export interface ResolvedImage {
  /** The digest of the manifest (the image's id). */
  id: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageSource {
  /** The name the image is kept under. */
  readonly name: string;
  resolve(): Promise<ResolvedImage>;
  /** The configuration's bytes, checked. */
  config(d: Descriptor): Promise<Buffer>;
  /** A layer's bytes as they come, for the reader to check against `d`. */
  open(d: Descriptor): Promise<Readable>;
  /** Removes what it unpacked to read an archive. */
  close(): Promise<void>;
}

export class RegistrySource implements ImageSource {
  readonly name: string;
  private source: Source | undefined;

  constructor(
    private readonly client: RegistryClient,
    private readonly ref: RegistryImage,
    private readonly credentials?: ImageCredentials,
  ) {
    this.name = imageName(ref);
  }

  async resolve(): Promise<ResolvedImage> {
    const resolved = await this.client.resolve(this.ref, this.credentials);
    this.source = resolved.source;
    return { id: resolved.digest, config: resolved.config, layers: resolved.layers };
  }

  config(d: Descriptor): Promise<Buffer> {
    return this.client.blob(this.source!, d, this.name);
  }

  open(d: Descriptor): Promise<Readable> {
    return this.client.blobStream(this.source!, d, this.name);
  }

  async close(): Promise<void> {}
}

const MAX_JSON = 4 * 1024 * 1024;

async function readJson(path: string, name: string): Promise<unknown> {
  try {
    if ((await stat(path)).size > MAX_JSON) throw new Error("too large");
    return JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    if (err instanceof CoreError) throw err;
    throw errors.imageInvalid(name, `${path} cannot be read as JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A file's bytes; a file that cannot be read says so as the image's fault. */
async function openFile(path: string, name: string): Promise<Readable> {
  try {
    // Opened before it is handed over, so a missing file fails here, not half-way.
    const handle = await open(path, "r");
    const stream = handle.createReadStream();
    const out = new PassThrough();
    stream.on("error", (err) => out.destroy(errors.imageInvalid(name, `cannot read ${path}: ${err.message}`)));
    out.on("close", () => stream.destroy());
    return stream.pipe(out);
  } catch (err) {
    throw errors.imageInvalid(name, `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function digestOf(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

/** An OCI image layout: index.json naming manifests (by tag, in the ref.name annotation), blobs under blobs/sha256. */
export class LayoutSource implements ImageSource {
  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly tag: string | undefined,
    private readonly cleanup: () => Promise<void> = async () => {},
  ) {}

  private blob(digest: string): string {
    if (!isDigest(digest)) throw errors.imageInvalid(this.name, `${digest} is not a sha256 digest`);
    return join(this.dir, "blobs", "sha256", digest.slice("sha256:".length));
  }

  async resolve(): Promise<ResolvedImage> {
    const index = (await readJson(join(this.dir, "index.json"), this.name)) as { manifests?: Array<Descriptor & { annotations?: Record<string, string> }> };
    const manifests = index.manifests ?? [];
    const named = this.tag === undefined ? manifests : manifests.filter((m) => m.annotations?.["org.opencontainers.image.ref.name"] === this.tag);
    if (named.length === 0) throw errors.imageNotFound(this.name, this.tag ? `no manifest is tagged ${this.tag}` : "the layout has no manifest");
    if (named.length > 1 && this.tag === undefined) throw errors.imageInvalid(this.name, "the layout has several images: name one by tag");
    let descriptor: Descriptor = named[0];
    let manifest = (await readJson(this.blob(descriptor.digest), this.name)) as { mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
    if (manifest.mediaType === MEDIA_TYPES.ociIndex || Array.isArray(manifest.manifests)) {
      descriptor = (manifest.manifests ?? []).find((m) => m.platform?.os === "linux") ?? (manifest.manifests ?? [])[0];
      if (!descriptor) throw errors.imageInvalid(this.name, "its index is empty");
      manifest = (await readJson(this.blob(descriptor.digest), this.name)) as typeof manifest;
    }
    if (!manifest.config || !Array.isArray(manifest.layers)) throw errors.imageInvalid(this.name, "its manifest has no config or no layers");
    const actual = await digestOf(this.blob(descriptor.digest));
    if (actual.digest !== descriptor.digest) throw errors.digestMismatch(this.name, descriptor.digest, `the manifest is ${actual.digest}`);
    return { id: descriptor.digest, config: manifest.config, layers: manifest.layers };
  }

  async config(d: Descriptor): Promise<Buffer> {
    const bytes = await readFile(this.blob(d.digest));
    if (`sha256:${createHash("sha256").update(bytes).digest("hex")}` !== d.digest) throw errors.digestMismatch(this.name, d.digest);
    return bytes;
  }

  open(d: Descriptor): Promise<Readable> {
    return openFile(this.blob(d.digest), this.name);
  }

  close(): Promise<void> {
    return this.cleanup();
  }
}

/**
 * What `docker save` and `podman save` write: manifest.json naming a config
 * file and layer tars (uncompressed); their digests are computed here.
 */
export class DockerArchiveSource implements ImageSource {
  private files = new Map<string, string>();

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly cleanup: () => Promise<void>,
  ) {}

  private inside(path: string): string {
    if (path.startsWith("/") || path.split("/").includes("..")) throw errors.imageInvalid(this.name, `manifest.json names ${path}, outside the archive`);
    return join(this.dir, path);
  }

  async resolve(): Promise<ResolvedImage> {
    const manifest = (await readJson(join(this.dir, "manifest.json"), this.name)) as Array<{ Config?: string; Layers?: string[] }>;
    const entry = Array.isArray(manifest) ? manifest[0] : undefined;
    if (!entry?.Config || !Array.isArray(entry.Layers)) throw errors.imageInvalid(this.name, "manifest.json names no config or no layers");
    const describe = async (path: string, mediaType: string): Promise<Descriptor> => {
      const file = this.inside(path);
      const { digest, size } = await digestOf(file);
      this.files.set(digest, file);
      return { mediaType, digest, size };
    };
    const config = await describe(entry.Config, "application/vnd.docker.container.image.v1+json");
    const layers = [];
    for (const layer of entry.Layers) layers.push(await describe(layer, "application/vnd.docker.image.rootfs.diff.tar"));
    const id = `sha256:${createHash("sha256").update(JSON.stringify({ config: config.digest, layers: layers.map((l) => l.digest) })).digest("hex")}`;
    return { id, config, layers };
  }

  config(d: Descriptor): Promise<Buffer> {
    return readFile(this.files.get(d.digest)!);
  }

  open(d: Descriptor): Promise<Readable> {
    return openFile(this.files.get(d.digest)!, this.name);
  }

  close(): Promise<void> {
    return this.cleanup();
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The source of an image reference; archives are unpacked into `scratch` first. */
export async function openSource(
  ref: Exclude<ImageReference, { kind: "directory" }>,
  deps: { registry: RegistryClient; commands: CommandRunner; scratch: string },
  credentials?: ImageCredentials,
): Promise<ImageSource> {
  switch (ref.kind) {
    case "registry":
      return new RegistrySource(deps.registry, ref, credentials);
    case "oci-layout":
      return new LayoutSource(imageName(ref), ref.path, ref.tag);
    case "oci-archive":
    case "docker-archive": {
      const name = imageName(ref);
      const dir = join(deps.scratch, `archive-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
      await mkdir(dir, { recursive: true });
      const cleanup = () => rm(dir, { recursive: true, force: true });
      try {
        // Only regular files and directories are needed from an image archive; tar keeps them inside dir.
        await deps.commands.run(["tar", "--extract", `--file=${ref.path}`, `--directory=${dir}`, "--no-same-owner", "--no-same-permissions"], { timeoutMs: 600_000 });
      } catch (err) {
        await cleanup();
        const text = err instanceof Error ? err.message : String(err);
        if (OUT_OF_SPACE.test(text)) throw errors.noSpace(deps.scratch, text, err);
        throw errors.imageInvalid(name, `the archive cannot be read: ${text}`);
      }
      // Read as what it holds, whichever was named: `docker save` of Docker 25 writes both; the OCI index is the richer.
      // Named by what it is, so `warden image ls` tells the two apart.
      if (await isFile(join(dir, "index.json"))) return new LayoutSource(`oci-archive:${ref.path}`, dir, undefined, cleanup);
      if (await isFile(join(dir, "manifest.json"))) return new DockerArchiveSource(`docker-archive:${ref.path}`, dir, cleanup);
      await cleanup();
      throw errors.imageInvalid(name, "the archive holds neither index.json (OCI) nor manifest.json (Docker)");
    }
  }
}
