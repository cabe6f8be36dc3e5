// A user namespace's map: container ids 0..size-1 are host ids
// hostId..hostId+size-1 (uids and gids alike).
export interface IdMap {
  hostId: number;
  size: number;
}

/** The largest id the kernel maps (2^32 - 2: (uid_t)-1 means "none"). */
export const MAX_HOST_ID = 2 ** 32 - 2;

/** Whether two maps share a host id. */
export function idMapsOverlap(a: IdMap, b: IdMap): boolean {
  return a.hostId < b.hostId + b.size && b.hostId < a.hostId + a.size;
}
