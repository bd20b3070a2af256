/**
 * A one-line progress bar for long operations, drawn on a terminal only:
 * redirected output stays free of control characters.
 * @module
 */

import { formatBytes } from "../base/human.ts";

const WIDTH = 30;
const encoder = new TextEncoder();

/** Redraws `label [####....] 42%  1.2 MiB / 3.0 MiB` in place on stderr. */
export class ProgressBar {
  readonly #label: string;
  #drawn = "";

  /** Builds a bar that prefixes its line with `label`. */
  constructor(label: string) {
    this.#label = label;
  }

  /** Shows `done` of `total` bytes; redraws only when the visible text changes. */
  update(done: number, total: number): void {
    const ratio = total > 0 ? Math.min(done / total, 1) : 1;
    const filled = Math.round(ratio * WIDTH);
    const bar = "#".repeat(filled) + ".".repeat(WIDTH - filled);
    const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
    const line = `${this.#label} [${bar}] ${percent}  ${formatBytes(done)} / ${formatBytes(total)}`;
    if (line === this.#drawn) return;
    this.#drawn = line;
    // \x1b[K clears what a longer previous line left behind.
    Deno.stderr.writeSync(encoder.encode(`\r${line}\x1b[K`));
  }

  /** Ends the bar's line so later output starts on a fresh one. */
  finish(): void {
    if (this.#drawn !== "") Deno.stderr.writeSync(encoder.encode("\n"));
  }
}
