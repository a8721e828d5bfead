/**
 * The part of a job document the jobs feature reads itself: `operation`, which names the
 * JobOperation that handles the rest. Anything else in the document is that operation's to check.
 */
export type DocumentCheck = { ok: true; operation: string } | { ok: false; reason: string };

const OPERATION_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export function operationOf(document: unknown, known: readonly string[]): DocumentCheck {
  const expected = `a JSON object with "operation" naming one of: ${known.join(', ')}`;
  if (document === undefined) return { ok: false, reason: `the job has no document; it must be ${expected}` };
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return { ok: false, reason: `the job document is not an object; it must be ${expected}` };
  const op = (document as Record<string, unknown>)['operation'];
  if (typeof op !== 'string') return { ok: false, reason: `the job document has no "operation" string; it must be ${expected}` };
  if (!OPERATION_NAME.test(op) || !known.includes(op)) {
    return { ok: false, reason: `unknown operation ${JSON.stringify(op.slice(0, 64))}; this agent knows: ${known.join(', ')}` };
  }
  return { ok: true, operation: op };
}
