/**
 * A seam for tests of I/O failure: hooks the writer calls before each write
 * and each fsync of a data file. They are unset in normal use; a test sets one
 * to throw (say, an ENOSPC-like error) and so exercises paths a healthy disk
 * never takes, such as an fsync that fails.
 * @module
 */

/** Hooks called with the file's path; a hook that throws makes that operation fail. */
export const faults: {
  beforeWrite?: (path: string) => void;
  beforeSync?: (path: string) => void;
} = {};
