/** Quotes a path for a copy-and-paste shell command (the `Fix: chmod ...` lines). */
export function shellQuote(p: string): string {
  return /^[A-Za-z0-9_./@:+-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}
