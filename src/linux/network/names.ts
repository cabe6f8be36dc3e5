// Names of what a container has on the host, all derived from its id (never
// from a client's handle). Eleven-character ids keep `w-<id>-N` within the
// 15 bytes of an interface name.
export const hostInterface = (id: string) => `w-${id}-0`;
export const containerInterface = (id: string) => `w-${id}-1`;
export const ifbInterface = (id: string) => `w-${id}-2`;
export const egressChain = (id: string) => `warden-i-${id}`;

/** The container id in one of our interface names, if it is one. */
export function idOfInterface(name: string): string | undefined {
  return /^w-([0-9a-v]{11})-[012]$/.exec(name)?.[1];
}

export function idOfChain(name: string): string | undefined {
  return /^warden-i-([0-9a-v]{11})$/.exec(name)?.[1];
}
