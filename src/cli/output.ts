/**
 * Buffered stdout for commands that print many lines (scan, dump): one write
 * per 64 KiB instead of one per line.
 * @module
 */

const FLUSH_AT = 64 * 1024;
const NEWLINE = new Uint8Array([0x0a]);
const utf8 = new TextEncoder();

/** Collects output and writes it to stdout in large pieces. */
export class Output {
  #parts: Uint8Array[] = [];
  #size = 0;

  /** Queues `parts` followed by a line feed. */
  async line(...parts: (Uint8Array | string)[]): Promise<void> {
    for (const p of parts) this.#push(typeof p === "string" ? utf8.encode(p) : p);
    this.#push(NEWLINE);
    if (this.#size >= FLUSH_AT) await this.flush();
  }

  /** Writes everything queued. */
  async flush(): Promise<void> {
    const block = new Uint8Array(this.#size);
    let at = 0;
    for (const part of this.#parts) {
      block.set(part, at);
      at += part.length;
    }
    this.#parts = [];
    this.#size = 0;
    for (let done = 0; done < block.length;) done += await Deno.stdout.write(block.subarray(done));
  }

  #push(bytes: Uint8Array): void {
    this.#parts.push(bytes);
    this.#size += bytes.length;
  }
}
