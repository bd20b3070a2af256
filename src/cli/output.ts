/**
 * Buffered stdout for commands that print many lines (scan, dump): one write
 * per 64 KiB instead of one per line, and never more than one piece past that
 * held, so a huge value goes out piece by piece.
 * @module
 */

const FLUSH_AT = 64 * 1024;
const NEWLINE = new Uint8Array([0x0a]);
const utf8 = new TextEncoder();

/** Collects output and writes it to stdout in large pieces. */
export class Output {
  #parts: Uint8Array[] = [];
  #size = 0;

  /** Queues `pieces` in order, writing out whenever 64 KiB have gathered. */
  async write(pieces: Iterable<Uint8Array | string>): Promise<void> {
    for (const p of pieces) {
      this.#push(typeof p === "string" ? utf8.encode(p) : p);
      if (this.#size >= FLUSH_AT) await this.flush();
    }
  }

  /** Queues `parts` followed by a line feed. */
  async line(...parts: (Uint8Array | string)[]): Promise<void> {
    await this.write([...parts, NEWLINE]);
  }

  /** Writes everything queued. */
  async flush(): Promise<void> {
    // One big piece (a spelled value) goes out as it is, not copied into a block.
    const block = this.#parts.length === 1 ? this.#parts[0] : this.#joined();
    this.#parts = [];
    this.#size = 0;
    for (let done = 0; done < block.length;) done += await Deno.stdout.write(block.subarray(done));
  }

  #joined(): Uint8Array {
    const block = new Uint8Array(this.#size);
    let at = 0;
    for (const part of this.#parts) {
      block.set(part, at);
      at += part.length;
    }
    return block;
  }

  #push(bytes: Uint8Array): void {
    this.#parts.push(bytes);
    this.#size += bytes.length;
  }
}
