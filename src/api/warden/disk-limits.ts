// Warden's LimitDisk arithmetic (reference §4.9). Starting from the current
// limits, the byte fields apply in the order byte_limit, byte, byte_soft,
// byte_hard (rounded up to 1024-byte blocks); then the block fields, which
// override them; then the inode fields. byte_limit, byte, block_limit,
// block, inode_limit and inode are aliases of the hard limits. The answer
// carries all twelve fields. 0 means no limit.
import type { DiskLimits } from "../../core/interfaces/disk-quota.js";

export const BLOCK_SIZE = 1024n;

export interface DiskLimitRequest {
  byteLimit?: bigint;
  byte?: bigint;
  byteSoft?: bigint;
  byteHard?: bigint;
  blockLimit?: bigint;
  block?: bigint;
  blockSoft?: bigint;
  blockHard?: bigint;
  inodeLimit?: bigint;
  inode?: bigint;
  inodeSoft?: bigint;
  inodeHard?: bigint;
}

export type DiskLimitFields = Required<DiskLimitRequest>;

const blocksOf = (bytes: bigint) => (bytes + BLOCK_SIZE - 1n) / BLOCK_SIZE;

export function applyDiskRequest(current: DiskLimits, r: DiskLimitRequest): DiskLimits {
  let blockSoft = blocksOf(current.byteSoft);
  let blockHard = blocksOf(current.byteHard);
  let { inodeSoft, inodeHard } = current;
  for (const v of [r.byteLimit, r.byte]) if (v !== undefined) blockHard = blocksOf(v);
  if (r.byteSoft !== undefined) blockSoft = blocksOf(r.byteSoft);
  if (r.byteHard !== undefined) blockHard = blocksOf(r.byteHard);
  for (const v of [r.blockLimit, r.block]) if (v !== undefined) blockHard = v;
  if (r.blockSoft !== undefined) blockSoft = r.blockSoft;
  if (r.blockHard !== undefined) blockHard = r.blockHard;
  for (const v of [r.inodeLimit, r.inode]) if (v !== undefined) inodeHard = v;
  if (r.inodeSoft !== undefined) inodeSoft = r.inodeSoft;
  if (r.inodeHard !== undefined) inodeHard = r.inodeHard;
  return { byteSoft: blockSoft * BLOCK_SIZE, byteHard: blockHard * BLOCK_SIZE, inodeSoft, inodeHard };
}

export function diskLimitFields(l: DiskLimits): DiskLimitFields {
  const blockSoft = blocksOf(l.byteSoft);
  const blockHard = blocksOf(l.byteHard);
  return {
    blockLimit: blockHard,
    block: blockHard,
    blockSoft,
    blockHard,
    inodeLimit: l.inodeHard,
    inode: l.inodeHard,
    inodeSoft: l.inodeSoft,
    inodeHard: l.inodeHard,
    byteLimit: blockHard * BLOCK_SIZE,
    byte: blockHard * BLOCK_SIZE,
    byteSoft: blockSoft * BLOCK_SIZE,
    byteHard: blockHard * BLOCK_SIZE,
  };
}
