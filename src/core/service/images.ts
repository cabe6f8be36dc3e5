// Images as clients name them, for the commands that manage the store
// (pull, list, remove, prune); containers acquire theirs when made.
import { randomBytes } from "node:crypto";
import { errors } from "../errors.js";
import { imageName, isDigest, parseImageReference } from "../images/reference.js";
import type { Image, ImageCredentials, ImageStore, ImageSummary, PullProgress } from "../interfaces/image-store.js";
import type { ServiceContext } from "./context.js";

export class ImageService {
  constructor(private readonly ctx: ServiceContext) {}

  private get store(): ImageStore {
    const store = this.ctx.deps.images;
    if (!store) throw errors.invalid("this daemon keeps no images");
    return store;
  }

  private stored(text: string) {
    const ref = parseImageReference(text);
    if (ref.kind === "directory") throw errors.invalid(`${text} is a directory, not an image`);
    return ref;
  }

  pull(text: string, options: { credentials?: ImageCredentials; onProgress?: (p: PullProgress) => void } = {}): Promise<Image> {
    return this.store.pull(this.stored(text), options);
  }

  list(): Promise<ImageSummary[]> {
    return this.store.list();
  }

  /** By the name it was pulled under (normalized: `busybox` is docker.io/library/busybox:latest) or by its id. */
  async remove(text: string): Promise<string> {
    const store = this.store;
    if (isDigest(text)) {
      const named = (await store.list()).filter((i) => i.id === text);
      if (named.length === 0) throw errors.imageNotFound(text, "no image in the store has this id");
      for (const i of named) await store.remove(i.name);
      return named.map((i) => i.name).join(", ");
    }
    const name = imageName(this.stored(text));
    await store.remove(name);
    return name;
  }

  /**
   * What `path` is in an image of the store (a directory, a file, a
   * symbolic link, or nothing): for a mount of one of its directories.
   */
  async find(text: string, path: string): Promise<"directory" | "file" | "symlink" | undefined> {
    const holder = `find-${randomBytes(6).toString("hex")}`;
    // Held while it is looked at: a remove cannot take its layers meanwhile.
    const image = await this.store.acquire(this.stored(text), holder, { privileged: true });
    try {
      return await this.ctx.deps.filesystem.findInBase({ kind: "layers", layers: image.layers }, path);
    } finally {
      await this.store.release(holder);
    }
  }

  prune(): Promise<{ images: string[]; bytes: number }> {
    return this.store.prune();
  }
}
