// runtime.v1.ImageService's handlers over the core's image store. This step
// answers what every client asks before anything else (crictl and critest
// check the service with ImageFsInfo) and lists the store; pulls, statuses
// and removal by the CRI's rules come with the image step.
import { CoreError } from "../../core/errors.js";
import type { ImageSummary } from "../../core/interfaces/image-store.js";
import { runtime } from "../../protocol/gen/cri.js";
import type { ImageHandlers } from "./codec.js";
import { CriRequestError } from "./errors.js";
import { nanos, u64 } from "./longs.js";
import v1 = runtime.v1;

export interface CriImagesOptions {
  /** Where the store keeps its layers: the file system the kubelet's image GC watches. */
  storePath: string;
  list(): Promise<ImageSummary[]>;
  /** By id or name; an image not in the store is an IMAGE_NOT_FOUND. */
  remove(image: string): Promise<unknown>;
}

export function imageHandlers(options: CriImagesOptions): ImageHandlers {
  return {
    ImageFsInfo: async () => {
      const used = (await options.list()).reduce((n, i) => n + i.size, 0);
      return { image_filesystems: [{ timestamp: nanos(Date.now()), fs_id: { mountpoint: options.storePath }, used_bytes: { value: u64(used) } }] };
    },
    // Removing what is not there succeeds: the kubelet's image GC may ask twice.
    RemoveImage: async (r: v1.RemoveImageRequest) => {
      const image = r.image?.image ?? "";
      if (!image) throw new CriRequestError("no image named");
      try {
        await options.remove(image);
      } catch (err) {
        if (!(err instanceof CoreError && err.code === "IMAGE_NOT_FOUND")) throw err;
      }
      return {};
    },
    ListImages: async () => ({
      images: (await options.list()).map((i) => ({ id: i.id, repo_tags: [i.name], repo_digests: [], size: u64(i.size) })),
    }),
  };
}
