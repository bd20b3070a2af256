// CPU work with no memory traffic and no allocation, the control of the
// Workers bench: run by one thread and split over Workers, it shows how many
// cores the machine gives the process at that moment, whatever Cask does.

/** `n` rounds of an LCG; returns its state so the loop is not optimized away. */
export function spin(n: number): number {
  let x = 1;
  for (let i = 0; i < n; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
  return x;
}
