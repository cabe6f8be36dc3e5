// The user namespace of containers: container ids 0..size-1 are host ids
// hostId..hostId+size-1. All containers share the daemon's range, as
// Garden's unprivileged containers do (each container's user still gets a
// host uid of its own: the uid pool lies inside the range); a container may
// be given a map of its own (a Kubernetes pod's).
import type { IdMap } from "../../core/interfaces/id-map.js";

export type { IdMap };

/** The host id of a container id; identity when there is no user namespace. */
export function hostIdOf(map: IdMap | undefined, id: number): number {
  if (!map) return id;
  if (id < 0 || id >= map.size) throw new RangeError(`id ${id} is outside the container's user namespace`);
  return map.hostId + id;
}

/** A host id no container holds: host root's files are seen as owned by it, through bind mounts. */
export const UNMAPPED_OWNER = 65534;

/**
 * The mapping of a bind mount, in crun's `idmap=` option (file system id -
 * host id - count): a host file owned by uid 1..size-1 is seen as that uid
 * inside, so the container user keeps Warden's meaning on shared
 * directories; what container root writes belongs to its own host uid.
 *
 * Host root (0) is mapped to UNMAPPED_OWNER, an id outside the container's
 * user namespace. Unmapped, the kernel refuses every write through the mount
 * to a root-owned inode (EACCES, whatever its mode); mapped so, a root-owned
 * directory of mode 0777 takes anyone's files, as in Warden, while container
 * root gets no privilege over host root's files: their owner is not in its
 * namespace, so only their "other" permission bits apply to it.
 */
export function bindMountIdmapOption(map: IdMap): string {
  const ranges = `0-${UNMAPPED_OWNER}-1#1-${map.hostId + 1}-${map.size - 1}#${map.hostId}-${map.hostId}-1`;
  return `idmap=uids=${ranges};gids=${ranges}`;
}
