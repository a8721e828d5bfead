/**
 * Gives a large Buffer's memory back at the next young-generation GC instead of the next full one.
 *
 * Why: a snapshot's JPEG (~200 KB, one malloc'd ArrayBuffer) lives through its upload, long enough
 * to survive the scavenges the launcher's 1 MB young generation runs meanwhile, so V8 promotes it to
 * the old generation, where only a mark-compact frees it. V8 runs one when the old generation's JS
 * objects reach their limit (every ~70 snapshots here) or when external memory has grown by 64 MB:
 * the dead JPEGs piled up in malloc's arena meanwhile, +12 MB of RSS after 100 snapshots
 * (docs/benchmarks.md, issue 21). Transferring the ArrayBuffer detaches it (every view of it is then
 * empty) and hands its memory to a new ArrayBuffer nobody references, in the young generation: the
 * next scavenge frees it.
 *
 * Only for a buffer its caller owns outright: nothing else reads it any more, no write of it is in
 * flight (s3-post resolves only once the connection is done with the file). A buffer that shares
 * its ArrayBuffer (a slice, or a small Buffer from node's shared pool, which node marks
 * untransferable) is left to the GC. Returns whether the memory was handed back.
 */
export function releaseBuffer(buf: Buffer): boolean {
  const whole = buf.buffer;
  if (!(whole instanceof ArrayBuffer) || buf.byteOffset !== 0 || buf.byteLength !== whole.byteLength || whole.byteLength === 0) return false;
  try {
    structuredClone(whole, { transfer: [whole] });
    return true;
  } catch {
    // Not transferable (node's pool, or an ArrayBuffer a native module pinned): the GC frees it.
    return false;
  }
}
