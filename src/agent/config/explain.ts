import { show } from './format-kinds.js';
import { lookup, type SchemaLeaf } from './keys.js';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[], source: string) {
    super(`invalid cloudcam agent configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

// convict reports all problems as one string, one line each: "key: message: value was X",
// "configuration param 'k' not declared in the schema" or "... 'k' missing from config, did you
// override its parent?". Each line becomes one problem naming the key, the value and the fix.

export function explainConvictErrors(
  text: string,
  instance: unknown,
  leaves: Map<string, SchemaLeaf>,
  file: string | undefined,
  env: NodeJS.ProcessEnv,
): string[] {
  const problems: string[] = [];
  const seenParents = new Set<string>();
  for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
    const undeclared = /^configuration param '(.+)' not declared in the schema$/.exec(line);
    if (undeclared) {
      const key = undeclared[1] ?? '';
      // A section given as a scalar shows up here too; the "missing" lines already explained it.
      if (seenParents.has(key) || [...leaves.keys()].some((k) => k.startsWith(`${key}.`))) continue;
      const near = nearestKey(key, [...leaves.keys()]);
      problems.push(
        `${key}: unknown key${file ? ` in ${file}` : ''}${near ? `; did you mean ${near}?` : ''} (docs/config.md lists every key)`,
      );
      continue;
    }
    const missing = /^configuration param '(.+)' missing from config/.exec(line);
    if (missing) {
      const key = missing[1] ?? '';
      const parent = firstNonObjectAncestor(instance, key) ?? key;
      if (seenParents.has(parent)) continue;
      seenParents.add(parent);
      problems.push(`${parent}: must be an object holding ${parent}.* keys, got ${show(lookup(instance, parent))}; check the nesting in ${file ?? 'the config'}`);
      continue;
    }
    const m = /^([A-Za-z0-9_.]+): (.*?)(?:: value was .*)?$/.exec(line);
    const key = m?.[1];
    const leaf = key ? leaves.get(key) : undefined;
    if (!m || !key || !leaf) {
      problems.push(line);
      continue;
    }
    const envName = leaf.env;
    const origin = env[envName] !== undefined ? `from environment ${envName}` : file ? `from ${file}` : 'default';
    const value = leaf.sensitive ? '' : ` = ${displayValue(lookup(instance, key))}`;
    problems.push(`${key}${value} (${origin}): ${m[2] ?? ''}. Fix: set ${key} in the config file or ${envName}.`);
  }
  return problems;
}

function firstNonObjectAncestor(obj: unknown, key: string): string | undefined {
  const parts = key.split('.');
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join('.');
    const v = lookup(obj, prefix);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return prefix;
  }
  return undefined;
}

/** Values in error messages never show URL credentials (the URL format rejects them, but the message must not leak them). */
function displayValue(v: unknown): string {
  if (typeof v === 'string') {
    return JSON.stringify(v.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1***@'));
  }
  if (v === null || v === undefined) return '(not set)';
  return JSON.stringify(v) ?? typeof v;
}

/** The valid key closest to an unknown one (edit distance, case-insensitive), if any is close enough. */
export function nearestKey(unknown: string, known: string[]): string | undefined {
  const target = unknown.toLowerCase();
  const leafName = target.split('.').pop() ?? target;
  const fullLimit = Math.max(2, Math.floor(target.length / 4));
  let best: { key: string; score: number } | undefined;
  for (const key of known) {
    const lower = key.toLowerCase();
    const full = editDistance(target, lower);
    // A right leaf under the wrong parent ("iot.password") should find "camera.password".
    const leaf = editDistance(leafName, lower.split('.').pop() ?? lower);
    const score = full <= fullLimit ? full : leaf <= 1 && leafName.length >= 3 ? leaf + fullLimit : undefined;
    if (score !== undefined && (!best || score < best.score)) best = { key, score };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
