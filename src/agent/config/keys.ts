import type convict from 'convict';
import type { ConfigSchema } from './agent-config.js';
import { configSchema } from './schema.js';

// Dotted key paths ("iot.reconnect.minMs"), the schema leaves they name, and the environment
// variable each one maps to.

/** A leaf of the schema, with its dotted key. */
export interface SchemaLeaf {
  key: string;
  doc: string;
  format: unknown;
  default: unknown;
  env: string;
  sensitive: boolean;
}

/**
 * The environment variable of a key, derived so nobody writes (or mistypes) it by hand and people can
 * guess it: CLOUDCAM_ + the key with dots and camelCase humps as underscores, upper case
 * (snapshot.captureTimeoutMs -> CLOUDCAM_SNAPSHOT_CAPTURE_TIMEOUT_MS).
 */
export function envNameOf(key: string): string {
  return `CLOUDCAM_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase()}`;
}

function isLeaf(node: object): node is convict.SchemaObj {
  return 'default' in node;
}

/** Every leaf in schema order. */
export function schemaLeaves(schema: object = configSchema, prefix = ''): SchemaLeaf[] {
  const out: SchemaLeaf[] = [];
  for (const [name, node] of Object.entries(schema) as [string, object][]) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (isLeaf(node)) {
      out.push({
        key,
        doc: typeof node.doc === 'string' ? node.doc : '',
        format: node.format,
        default: node.default,
        env: envNameOf(key),
        sensitive: node.sensitive === true,
      });
    } else {
      out.push(...schemaLeaves(node, key));
    }
  }
  return out;
}

/** A copy of the schema with each leaf's derived `env` name, which is where convict looks for it. */
export function withEnvNames<T>(schema: ConfigSchema<T>): convict.Schema<T> {
  return envNamed(schema, '') as convict.Schema<T>;
}

function envNamed(schema: object, prefix: string): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [name, node] of Object.entries(schema) as [string, object][]) {
    const key = prefix ? `${prefix}.${name}` : name;
    out[name] = isLeaf(node) ? { ...node, env: envNameOf(key) } : envNamed(node, key);
  }
  return out;
}

/** The value at a dotted key, or undefined when a part of the path is missing. */
export function lookup(obj: unknown, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
