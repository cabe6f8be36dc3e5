// runtime.v1.ImageService's handlers over the core's image store: the file
// system it uses (crictl and critest check the service with ImageFsInfo),
// pulls (with credentials), statuses by name or id, lists and idempotent
// removal. An image is known by its canonical name (docker.io/library/
// busybox:latest for "busybox") and by its id. Several tags of one image,
// repo digests and the user from its configuration come with the image
// step.
import { CoreError } from "../../core/errors.js";
import { imageName, parseImageReference } from "../../core/images/reference.js";
import type { ImageCredentials, ImageSummary } from "../../core/interfaces/image-store.js";
import { runtime } from "../../protocol/gen/cri.js";
import type { ImageHandlers } from "./codec.js";
import Long from "long";
import { CriRequestError } from "./errors.js";
import { nanos, u64 } from "./longs.js";
import v1 = runtime.v1;

export interface CriImagesOptions {
  /** Where the store keeps its layers: the file system the kubelet's image GC watches. */
  storePath: string;
  list(): Promise<ImageSummary[]>;
  /** By id or name; an image not in the store is an IMAGE_NOT_FOUND. */
  remove(image: string): Promise<unknown>;
  pull(image: string, credentials?: ImageCredentials): Promise<{ id: string }>;
}

/** The image a client names (a name, a short name, an id with or without "sha256:"), if the store has it. */
export function findImage(images: readonly ImageSummary[], text: string): ImageSummary | undefined {
  let name: string | undefined;
  try {
    const ref = parseImageReference(text);
    if (ref.kind !== "directory") name = imageName(ref);
  } catch {
    // not a name: an id, perhaps
  }
  return images.find((i) => i.id === text || i.id === `sha256:${text}` || i.name === name);
}

function credentialsOf(auth: v1.AuthConfig.$Properties | null | undefined): ImageCredentials | undefined {
  if (!auth) return undefined;
  if (auth.username) return { username: auth.username, password: auth.password ?? "" };
  if (auth.auth) {
    const [username, ...rest] = Buffer.from(auth.auth, "base64").toString().split(":");
    return { username, password: rest.join(":") };
  }
  return undefined;
}

/** The store's names of one image (by id): its tags and digests, one Image of the API. */
function imageMessage(images: readonly ImageSummary[], id: string): v1.Image.$Properties {
  const names = images.filter((i) => i.id === id);
  const user = names.find((i) => i.user)?.user ?? "";
  // "1002" and "1003:1004" name a uid; "www-data" and "www-data:1004" a user name.
  const who = user.split(":")[0];
  return {
    id,
    repo_tags: names.filter((i) => !i.name.includes("@")).map((i) => i.name),
    repo_digests: names.filter((i) => i.name.includes("@")).map((i) => i.name),
    // The API asks for a size above 0; an image of empty layers still has a manifest.
    size: u64(Math.max(names[0]?.size ?? 0, 1)),
    ...(/^\d+$/.test(who) ? { uid: { value: Long.fromString(who) } } : who ? { username: who } : {}),
  };
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
      // By any of its names: the image goes, with every tag and digest it is known by.
      const images = await options.list();
      const found = findImage(images, image);
      const names = found ? images.filter((i) => i.id === found.id).map((i) => i.name) : [image];
      for (const name of names) {
        try {
          await options.remove(name);
        } catch (err) {
          if (!(err instanceof CoreError && err.code === "IMAGE_NOT_FOUND")) throw err;
        }
      }
      return {};
    },
    ListImages: async () => {
      const images = await options.list();
      return { images: [...new Set(images.map((i) => i.id))].map((id) => imageMessage(images, id)) };
    },
    // An absent image is no error: the answer has no image.
    ImageStatus: async (r: v1.ImageStatusRequest) => {
      const images = await options.list();
      const found = findImage(images, r.image?.image ?? "");
      return found ? { image: imageMessage(images, found.id) } : {};
    },
    PullImage: async (r: v1.PullImageRequest) => {
      const image = r.image?.image ?? "";
      if (!image) throw new CriRequestError("no image named");
      return { image_ref: (await options.pull(image, credentialsOf(r.auth))).id };
    },
  };
}
