import type convict from 'convict';
import { configSchema } from './schema.js';

// Dotted key paths ("iot.reconnect.minMs") and the schema leaves they name.

/** A leaf of the schema, with its dotted key. */
export interface SchemaLeaf {
  key: string;
  doc: string;
  format: unknown;
  default: unknown;
  env?: string;
  sensitive: boolean;
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
        ...(typeof node.env === 'string' ? { env: node.env } : {}),
        sensitive: node.sensitive === true,
      });
    } else {
      out.push(...schemaLeaves(node, key));
    }
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

