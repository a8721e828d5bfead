import { formatDoc } from './formats.js';
import { schemaLeaves, type SchemaLeaf } from './keys.js';

/**
 * docs/config.md, rendered from the convict schema so the reference cannot drift from the code
 * (docs.test.ts fails when the committed file differs).
 */
export function renderConfigDocs(): string {
  const rows = schemaLeaves().map(
    (leaf) => `| \`${leaf.key}\` | \`${leaf.env}\` | ${cell(defaultText(leaf))} | ${cell(formatText(leaf.format))} | ${cell(leaf.doc)} |`,
  );
  return [
    '# Agent configuration',
    '',
    '<!-- Generated from src/agent/config/schema.ts by scripts/gen-config-docs.mjs; do not edit by hand. -->',
    '',
    'The agent reads one JSON file whose nesting follows the dotted keys below,',
    'then applies environment overrides (each key has a `CLOUDCAM_...` variable; lists are comma-separated).',
    'Relative paths in the file start at the directory of the file; relative paths in the environment start at',
    'the working directory. Unknown keys are errors (with the nearest valid key), and every problem is reported',
    'at once. Keys marked `(required)` have no default.',
    '',
    'Example:',
    '',
    '```json',
    '{',
    '  "thingName": "cam-lobby-1",',
    '  "iot": {',
    '    "endpoint": "abc123example-ats.iot.eu-west-1.amazonaws.com",',
    '    "caPath": "certs/AmazonRootCA1.pem",',
    '    "certPath": "certs/device.pem.crt",',
    '    "keyPath": "certs/private.pem.key"',
    '  },',
    '  "camera": { "username": "cloudcam", "password": "..." },',
    '  "schedule": { "cron": "0 * * * *" }',
    '}',
    '```',
    '',
    '| Key | Environment | Default | Format | Description |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

function defaultText(leaf: SchemaLeaf): string {
  if (leaf.sensitive) return '(secret)';
  const d = leaf.default;
  if (d === null || d === undefined) return '(required)';
  if (leaf.key === 'iot.mqttVersion') return d === 4 ? '`"3.1.1"`' : '`"5"`';
  return `\`${JSON.stringify(d)}\``;
}

function formatText(format: unknown): string {
  if (typeof format === 'string') return formatDoc(format) ?? format;
  if (Array.isArray(format)) return `one of ${format.map((v) => `\`${String(v)}\``).join(', ')}`;
  if (format === String) return 'string';
  if (format === Number) return 'number';
  if (format === Boolean) return 'boolean';
  return 'any';
}

/** Table cells cannot hold pipes or line breaks. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
