import fs from 'node:fs';
import net from 'node:net';

// The kinds of custom format the schema needs more than once (whole-number ranges, host lists,
// files that must exist), as builders for the table in formats.ts.

/** One custom convict format: what it accepts (for docs/config.md), its check, and how an env string becomes a value. */
export interface FormatDef {
  doc: string;
  validate: (value: unknown) => void;
  coerce?: (raw: string) => unknown;
}

export const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** Env values arrive as strings; numbers written as strings become numbers, anything else stays for the error. */
export const coerceNumber = (raw: string): unknown => (/^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : raw);
/** A comma-separated env value becomes a list; '' is the empty list. */
export const coerceList = (raw: string): unknown =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

export function intRange(min: number, max: number, doc: string, hint = ''): FormatDef {
  return {
    doc,
    validate: (v) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw new Error(`must be a whole number from ${min} to ${max}${hint}, got ${show(v)}`);
      }
    },
    coerce: coerceNumber,
  };
}

const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

export function isHostName(s: string): boolean {
  if (net.isIP(s) !== 0) return true;
  return s.length <= 253 && s.split('.').every((label) => HOST_LABEL.test(label));
}

/** host, host:port or [v6]:port; returns the host part or undefined. */
function hostOfEntry(entry: string): string | undefined {
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/i.exec(entry);
  if (v6) return net.isIPv6(v6[1] ?? '') && validPort(v6[2]) ? (v6[1] ?? '') : undefined;
  if (net.isIPv6(entry)) return entry;
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(entry);
  if (!m || !validPort(m[2])) return undefined;
  return isHostName(m[1] ?? '') ? m[1] : undefined;
}

function validPort(p: string | undefined): boolean {
  if (p === undefined) return true;
  const n = Number(p);
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/**
 * AWS's shared service domains: every account's buckets (`*.s3.{region}.amazonaws.com`), EC2 public
 * names (`ec2-...compute.amazonaws.com`) and API Gateway (`*.execute-api...`) live under them, so a
 * wildcard over one lets a request upload to anyone's endpoint. Exact hosts only there.
 */
const SHARED_AWS_DOMAIN = /(^|\.)amazonaws\.com(\.cn)?$|(^|\.)amazonaws-us-gov\.com$|(^|\.)on\.aws$/i;

export function hostList(allowWildcard: boolean, doc: string): FormatDef {
  return {
    doc,
    validate: (v) => {
      if (!Array.isArray(v)) throw new Error(`must be a list of host names, e.g. ["bucket.s3.eu-west-1.amazonaws.com"], got ${show(v)}`);
      for (const entry of v as unknown[]) {
        if (typeof entry !== 'string' || entry.length === 0) throw new Error(`entries must be non-empty strings, got ${show(entry)}`);
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry) || entry.includes('/')) {
          throw new Error(`entry ${show(entry)} is a URL: write only the host (and :port if not the default), e.g. "${safeHost(entry)}"`);
        }
        if (entry.startsWith('*.')) {
          if (!allowWildcard) throw new Error(`entry ${show(entry)}: wildcards are not allowed here; list each exact host`);
          const suffix = entry.slice(2);
          if (!suffix.includes('.') || !isHostName(suffix) || net.isIP(suffix) !== 0) {
            throw new Error(`entry ${show(entry)}: a wildcard needs a domain of at least two labels after "*.", e.g. "*.uploads.example.com"`);
          }
          if (SHARED_AWS_DOMAIN.test(suffix)) {
            throw new Error(
              `entry ${show(entry)} matches hosts of every AWS account (other accounts' buckets, EC2 hosts, API Gateway): ` +
                'list your own bucket\'s host instead, e.g. "{bucket}.s3.{region}.amazonaws.com" (the stack output UploadHost)',
            );
          }
          continue;
        }
        if (hostOfEntry(entry) === undefined) {
          throw new Error(`entry ${show(entry)} is not a host or host:port${allowWildcard ? ' or *.domain' : ''}`);
        }
      }
    },
    coerce: coerceList,
  };
}

function safeHost(entry: string): string {
  try {
    return new URL(entry).host || 'host.example.com';
  } catch {
    return 'host.example.com';
  }
}

/**
 * A file the agent reads at connect time. Missing or unreadable files are reported here, before
 * the first connect, with what the file is and how to get it.
 */
export function readableFile(what: string, howToProvide: string): FormatDef {
  return {
    doc: `path of ${what} (must exist and be readable)`,
    validate: (v) => {
      if (v === null || v === undefined || v === '') throw new Error(`is required: the path of ${what}. ${howToProvide}`);
      if (typeof v !== 'string') throw new Error(`must be a file path, got ${show(v)}`);
      let stat: fs.Stats;
      try {
        stat = fs.statSync(v);
      } catch {
        throw new Error(`${what} not found at ${v}. ${howToProvide}`);
      }
      if (!stat.isFile()) throw new Error(`${v} is not a file; it must be ${what}. ${howToProvide}`);
      try {
        fs.accessSync(v, fs.constants.R_OK);
      } catch {
        throw new Error(`${what} at ${v} is not readable by this user (uid ${process.getuid?.() ?? '?'}); fix its owner or mode`);
      }
    },
  };
}
