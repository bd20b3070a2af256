// Fixed regions of linear memory, published to JS as exported globals so the
// wrapper never hard-codes an address.

/** Bytes per record descriptor (see record.ts writeDescriptor). */
export const DESC_SIZE: u32 = 40;
/** Descriptors one scan call may write; one more slot follows for readHeader. */
export const DESC_MAX: u32 = 2048;
export const DESC_PTR: usize = memory.data(<i32> ((DESC_MAX + 1) * DESC_SIZE), 16);

/** Where JS copies bytes that do not already live in this memory. */
export const STAGE_SIZE: u32 = 256 << 10;
export const STAGE_PTR: usize = memory.data(<i32> STAGE_SIZE, 16);

/** Caller-filled region; it runs to the end of memory and grows on demand. */
export const SCRATCH_PTR: usize = (__heap_base + 15) & ~15;

/** Grows memory so that [SCRATCH_PTR, SCRATCH_PTR + size) exists; false if it cannot. */
export function reserveScratch(size: usize): bool {
  const end = <u64> SCRATCH_PTR + size;
  const have = <u64> memory.size() << 16;
  if (end <= have) return true;
  return memory.grow(<i32> ((end - have + 0xffff) >> 16)) >= 0;
}
