import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigDocs } from './docs.js';
import { schemaLeaves } from './keys.js';

const DOC = new URL('../../../docs/config.md', import.meta.url);

describe('docs/config.md', () => {
  it('is up to date with the schema (regenerate: npx tsc -p tsconfig.build.json && node scripts/gen-config-docs.mjs)', () => {
    expect(fs.readFileSync(DOC, 'utf8')).toBe(renderConfigDocs());
  });

  it('has one row per key, with its env var, and never prints a sensitive default', () => {
    const text = renderConfigDocs();
    for (const leaf of schemaLeaves()) {
      const row = text.split('\n').find((l) => l.startsWith(`| \`${leaf.key}\` |`));
      expect(row, leaf.key).toBeDefined();
      expect(leaf.doc.length, `${leaf.key} has a doc`).toBeGreaterThan(10);
      expect(leaf.env, `${leaf.key} has an env var`).toMatch(/^CLOUDCAM_[A-Z0-9_]+$/);
      expect(row).toContain(`\`${leaf.env}\``);
      if (leaf.sensitive) expect(row).toContain('(secret)');
    }
  });
});
