import { errors } from './errors.js';

/** One condition of a POST policy, field names lower-cased (S3 matches form field names case-insensitively). */
export type PolicyCondition =
  | { kind: 'eq'; field: string; value: string; source: string }
  | { kind: 'starts-with'; field: string; value: string; source: string }
  | { kind: 'content-length-range'; min: number; max: number; source: string };

export interface PostPolicy {
  expiration: number;
  conditions: PolicyCondition[];
}

/** A form field as received: `name` keeps the sender's spelling for error messages. */
export interface FormField {
  name: string;
  value: string;
}

/** Fields S3 never asks a condition for (POST Policy, "Conditions"). */
function isExempt(lowerName: string): boolean {
  return lowerName === 'file' || lowerName === 'policy' || lowerName === 'x-amz-signature' || lowerName.startsWith('x-ignore-');
}

/** S3's spelling of a condition in "Policy Condition failed: [...]". */
function render(parts: Array<string | number>): string {
  return `[${parts.map((p) => JSON.stringify(p)).join(', ')}]`;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function parseRangeBound(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^\d+$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  return undefined;
}

function parseCondition(raw: unknown): PolicyCondition[] {
  const invalid = () => errors.invalidPolicy(`Invalid Condition: ${JSON.stringify(raw)}`);
  if (Array.isArray(raw)) {
    const [op, a, b] = raw as unknown[];
    if (raw.length !== 3 || typeof op !== 'string') throw invalid();
    const opLower = op.toLowerCase();
    if (opLower === 'content-length-range') {
      const min = parseRangeBound(a);
      const max = parseRangeBound(b);
      if (min === undefined || max === undefined || min > max) throw invalid();
      return [{ kind: 'content-length-range', min, max, source: render([op, min, max]) }];
    }
    if ((opLower === 'eq' || opLower === 'starts-with') && typeof a === 'string' && a.startsWith('$') && typeof b === 'string') {
      return [{ kind: opLower, field: a.slice(1).toLowerCase(), value: b, source: render([opLower, a, b]) }];
    }
    throw invalid();
  }
  if (raw !== null && typeof raw === 'object') {
    const entries = Object.entries(raw as Record<string, unknown>);
    if (entries.length === 0) throw invalid();
    return entries.map(([name, value]) => {
      if (typeof value !== 'string') throw invalid();
      return { kind: 'eq' as const, field: name.toLowerCase(), value, source: render(['eq', `$${name}`, value]) };
    });
  }
  throw invalid();
}

/** Decodes the base64 `policy` form field into its expiration and conditions. */
export function decodePolicy(policyBase64: string): PostPolicy {
  if (!BASE64.test(policyBase64) || policyBase64.length % 4 !== 0) {
    throw errors.invalidPolicy('Policy is not valid base64.');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(policyBase64, 'base64').toString('utf8'));
  } catch {
    throw errors.invalidPolicy('Invalid JSON.');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw errors.invalidPolicy('Invalid JSON.');
  const { expiration, conditions } = doc as Record<string, unknown>;
  if (expiration === undefined) throw errors.invalidPolicy('Policy missing expiration.');
  const expiresAt = typeof expiration === 'string' ? Date.parse(expiration) : Number.NaN;
  if (typeof expiration !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(expiration) || Number.isNaN(expiresAt)) {
    throw errors.invalidPolicy(`Invalid 'expiration' value: ${JSON.stringify(expiration)}`);
  }
  if (conditions === undefined) throw errors.invalidPolicy('Policy missing conditions.');
  if (!Array.isArray(conditions)) throw errors.invalidPolicy("Invalid 'conditions' value: must be a list.");
  return { expiration: expiresAt, conditions: conditions.flatMap(parseCondition) };
}

export interface PolicyContext {
  /** The bucket named in the request path. */
  bucket: string;
  /** The object key after `${filename}` substitution: S3 checks `$key` conditions against it. */
  key: string;
  now: number;
}

export interface PolicyLimits {
  /** From content-length-range, when the policy has one. */
  minBytes?: number;
  maxBytes?: number;
}

/**
 * Checks expiry, every condition and that every form field is covered by a condition. Throws the
 * S3Error S3 would answer; returns the size limits to apply once the file has been read.
 */
export function checkPolicy(policy: PostPolicy, fields: readonly FormField[], ctx: PolicyContext): PolicyLimits {
  if (ctx.now >= policy.expiration) throw errors.policyExpired();
  const byName = new Map(fields.map((f) => [f.name.toLowerCase(), f.value]));
  const valueOf = (field: string): string | undefined =>
    field === 'bucket' ? ctx.bucket : field === 'key' ? ctx.key : byName.get(field);

  const limits: PolicyLimits = {};
  const covered = new Set<string>();
  for (const c of policy.conditions) {
    if (c.kind === 'content-length-range') {
      // Several ranges narrow each other, as all conditions must hold.
      limits.minBytes = Math.max(limits.minBytes ?? 0, c.min);
      limits.maxBytes = Math.min(limits.maxBytes ?? Number.MAX_SAFE_INTEGER, c.max);
      continue;
    }
    covered.add(c.field);
    const actual = valueOf(c.field);
    if (c.kind === 'eq') {
      if (actual !== c.value) throw errors.conditionFailed(c.source);
    } else if (actual === undefined) {
      // ["starts-with", "$f", ""] means "anything"; we let it cover an absent field too.
      if (c.value !== '') throw errors.conditionFailed(c.source);
    } else if (c.field === 'content-type') {
      // S3 checks each value of a comma-separated Content-Type against the prefix.
      if (!actual.split(',').every((v) => v.trim().startsWith(c.value))) throw errors.conditionFailed(c.source);
    } else if (!actual.startsWith(c.value)) {
      throw errors.conditionFailed(c.source);
    }
  }
  const extra = fields.filter((f) => !isExempt(f.name.toLowerCase()) && !covered.has(f.name.toLowerCase()));
  if (extra.length > 0) throw errors.extraFields(extra.map((f) => f.name));
  return limits;
}
