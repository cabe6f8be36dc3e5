// OCI image layouts made by the tests from directory trees: gzipped layer
// tars, a config, a manifest (or an index of several platforms), tagged in
// index.json. skopeo pushes them to the test registry as they are.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../src/linux/command.js";

const sha256 = (data: Buffer | string) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

export interface ImageSpec {
  /**
   * Each fills an empty directory with what the layer holds (OCI whiteouts
   * as .wh. files), or is the layer's blob as it is (a broken or hostile one).
   */
  layers: Array<((root: string) => Promise<void>) | { blob: Buffer }>;
  config?: { Env?: string[]; WorkingDir?: string; User?: string; Entrypoint?: string[]; Cmd?: string[] };
  architecture?: string;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
}

export class LayoutWriter {
  private readonly tags: Descriptor[] = [];

  constructor(readonly dir: string) {}

  private async blob(data: Buffer | string, mediaType: string): Promise<Descriptor> {
    const digest = sha256(data);
    await mkdir(join(this.dir, "blobs/sha256"), { recursive: true });
    await writeFile(join(this.dir, "blobs/sha256", digest.slice(7)), data);
    return { mediaType, digest, size: Buffer.byteLength(data) };
  }

  private async layer(fill: ((root: string) => Promise<void>) | { blob: Buffer }): Promise<{ descriptor: Descriptor; diffId: string }> {
    if (typeof fill !== "function") return { descriptor: await this.blob(fill.blob, "application/vnd.oci.image.layer.v1.tar+gzip"), diffId: sha256(fill.blob) };
    const work = await mkdtemp(join(this.dir, "..", "layer-"));
    try {
      const root = join(work, "root");
      await mkdir(root);
      await fill(root);
      const tar = join(work, "layer.tar");
      await run(["tar", "--create", `--file=${tar}`, `--directory=${root}`, "--numeric-owner", "--xattrs", "."]);
      const plain = await readFile(tar);
      await run(["gzip", "-n", "-1", tar]);
      const gz = await readFile(`${tar}.gz`);
      return { descriptor: await this.blob(gz, "application/vnd.oci.image.layer.v1.tar+gzip"), diffId: sha256(plain) };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Writes the image's blobs and answers its manifest's descriptor. */
  async image(spec: ImageSpec): Promise<Descriptor> {
    const layers = [];
    for (const fill of spec.layers) layers.push(await this.layer(fill));
    const architecture = spec.architecture ?? "amd64";
    const config = await this.blob(
      JSON.stringify({ architecture, os: "linux", config: spec.config ?? {}, rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) } }),
      "application/vnd.oci.image.config.v1+json",
    );
    const manifest = await this.blob(
      JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config, layers: layers.map((l) => l.descriptor) }),
      "application/vnd.oci.image.manifest.v1+json",
    );
    return { ...manifest, platform: { os: "linux", architecture } };
  }

  /** An index of several platforms' manifests. */
  async index(manifests: Descriptor[]): Promise<Descriptor> {
    return this.blob(
      JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }),
      "application/vnd.oci.image.index.v1+json",
    );
  }

  /** Names `descriptor` `tag` in the layout's index.json. */
  async tag(tag: string, descriptor: Descriptor): Promise<void> {
    const { platform: _platform, ...plain } = descriptor;
    this.tags.push({ ...plain, annotations: { "org.opencontainers.image.ref.name": tag } });
    await writeFile(join(this.dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(this.dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: this.tags }));
  }
}

/** Fills a layer with a static busybox (sh and the usual applets) and a static bash, and account files. */
export async function toolsLayer(root: string): Promise<void> {
  await mkdir(join(root, "bin"), { recursive: true });
  await run(["cp", "/bin/busybox", join(root, "bin/busybox")]);
  await run(["cp", "/bin/bash-static", join(root, "bin/bash")]);
  for (const applet of ["sh", "cat", "echo", "env", "id", "ls", "pwd", "sleep", "stat", "test", "touch", "whoami", "mkdir", "rm", "head", "wc", "uname", "hostname", "true", "false", "dd", "tr", "sort", "readlink"]) {
    await run(["ln", "-s", "busybox", join(root, "bin", applet)]);
  }
  await mkdir(join(root, "usr"), { recursive: true });
  await run(["ln", "-s", "../bin", join(root, "usr/bin")]);
  await mkdir(join(root, "etc"));
  await writeFile(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n");
  await writeFile(join(root, "etc/group"), "root:x:0:\napp:x:1000:\n");
  await mkdir(join(root, "root"), { mode: 0o700 });
  await mkdir(join(root, "tmp"));
  await run(["chmod", "1777", join(root, "tmp")]);
  await mkdir(join(root, "home/app"), { recursive: true });
  await run(["chown", "1000:1000", join(root, "home/app")]);
}
