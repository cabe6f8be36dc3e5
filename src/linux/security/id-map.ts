// The user namespace of containers: container ids 0..size-1 are host ids
// hostId..hostId+size-1. All containers share the one range, as Garden's
// unprivileged containers do; each container's user still gets a host uid
// of its own (the uid pool lies inside the range).
export interface IdMap {
  hostId: number;
  size: number;
}

/** The host id of a container id; identity when there is no user namespace. */
export function hostIdOf(map: IdMap | undefined, id: number): number {
  if (!map) return id;
  if (id < 0 || id >= map.size) throw new RangeError(`id ${id} is outside the container's user namespace`);
  return map.hostId + id;
}

/**
 * The mapping of a bind mount, in crun's `idmap=` option (file system id -
 * host id - count): a host file owned by uid 1..size-1 is seen as that uid
 * inside, so the container user keeps Warden's meaning on shared
 * directories. Host root is not mapped (its files look like nobody's and its
 * directories cannot be written); what container root writes belongs to
 * container root's unprivileged host uid.
 */
export function bindMountIdmapOption(map: IdMap): string {
  const ranges = `1-${map.hostId + 1}-${map.size - 1}#${map.hostId}-${map.hostId}-1`;
  return `idmap=uids=${ranges};gids=${ranges}`;
}
