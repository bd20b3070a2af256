/**
 * A `cask load` that stopped part-way: the failure, plus how much of the dump
 * was stored before it, so the user knows whether to clean up or resume.
 * @module
 */

import { count } from "../base/human.ts";

/** `cask load` failed after storing `loaded` keys (none in `--atomic` mode); `cause` says why. */
export class LoadError extends Error {
  /** Wraps `cause`, the failure that stopped the load. */
  constructor(cause: unknown, loaded: number, atomic: boolean) {
    super(atomic ? "nothing loaded (--atomic)" : `stopped after loading ${count(loaded, "key")}`, {
      cause,
    });
    this.name = "LoadError";
  }
}
