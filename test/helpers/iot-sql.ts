/**
 * A small evaluator for the subset of AWS IoT SQL (version 2016-03-23) the stack's rules use, so a
 * test can run a rule on a real message and hand the result to the code the rule feeds. Anything
 * outside the subset throws: a rule rewritten with new syntax must be taught here, never guessed.
 *
 *   SELECT item, ... FROM 'topic/filter' [WHERE field = 'literal' [OR|AND ...]]
 *   item: *  |  topic(n) [AS a.b]  |  'literal' AS a.b  |  field [AS a.b]  |  field = 'literal' AS a.b
 * Semantics followed (IoT SQL reference): a selected field that is absent from the payload is left
 * out of the result; a WHERE comparison with an absent field is not true; nested aliases build objects.
 */

type Json = Record<string, unknown>;

function splitTopLevel(text: string, separator: RegExp): string[] {
  // Literals here never contain separators or quotes; a quote inside one would be refused below.
  return text.split(separator).map((s) => s.trim());
}

export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i += 1) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function field(payload: Json, dotted: string): unknown {
  let v: unknown = payload;
  for (const part of dotted.split('.')) v = typeof v === 'object' && v !== null ? (v as Json)[part] : undefined;
  return v;
}

function setPath(out: Json, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let o = out;
  for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Json;
  o[parts[parts.length - 1]!] = value;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const LITERAL = /^'([^'"]*)'$/;

function evalExpr(expr: string, payload: Json, topic: string): unknown {
  let m = /^topic\((\d+)\)$/.exec(expr);
  if (m) return topic.split('/')[Number(m[1]) - 1];
  m = LITERAL.exec(expr);
  if (m) return m[1];
  m = /^([A-Za-z_][\w.]*)\s*=\s*'([^'"]*)'$/.exec(expr);
  if (m) {
    const v = field(payload, m[1]!);
    return v === undefined ? undefined : v === m[2];
  }
  if (IDENT.test(expr)) return field(payload, expr);
  throw new Error(`iot-sql: unsupported expression "${expr}"`);
}

/** Runs the rule on one message; undefined when the topic does not match or WHERE is not true. */
export function evaluateIotSql(sql: string, topic: string, payload: Json): Json | undefined {
  const m = /^SELECT (.+) FROM '([^']+)'(?: WHERE (.+))?$/.exec(sql.trim());
  if (!m) throw new Error(`iot-sql: unsupported statement "${sql}"`);
  const [, items, filter, where] = m as unknown as [string, string, string, string | undefined];
  if (!topicMatches(filter, topic)) return undefined;
  if (where !== undefined) {
    if (/ AND /.test(where) && / OR /.test(where)) throw new Error('iot-sql: mixed AND/OR is not supported');
    const terms = splitTopLevel(where, / OR | AND /);
    const values = terms.map((t) => {
      if (!/^[A-Za-z_][\w.]*\s*=\s*'[^'"]*'$/.test(t)) throw new Error(`iot-sql: unsupported condition "${t}"`);
      return evalExpr(t, payload, topic) === true;
    });
    if (!(/ AND /.test(where) ? values.every(Boolean) : values.some(Boolean))) return undefined;
  }
  const out: Json = {};
  for (const item of splitTopLevel(items, /,/)) {
    if (item === '*') {
      Object.assign(out, structuredClone(payload));
      continue;
    }
    const a = /^(.+?) AS ([A-Za-z_][\w.]*)$/i.exec(item);
    const expr = (a ? a[1] : item)!.trim();
    const alias = a ? a[2]! : expr;
    if (!a && !IDENT.test(expr)) throw new Error(`iot-sql: "${item}" needs an alias`);
    const value = evalExpr(expr, payload, topic);
    if (value !== undefined) setPath(out, alias, value);
  }
  return out;
}
