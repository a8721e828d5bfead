#!/usr/bin/env node
// Writes docs/config.md from the agent's config schema. Run after a build:
//   npx tsc -p tsconfig.build.json && node scripts/gen-config-docs.mjs
// (src/agent/config/docs.test.ts fails while docs/config.md is out of date.)
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const { renderConfigDocs } = await import('../dist/agent/config/docs.js').catch((err) => {
  process.stderr.write(`cannot load dist/agent/config/docs.js (${err.message}); build first: npx tsc -p tsconfig.build.json\n`);
  process.exit(1);
});
const target = fileURLToPath(new URL('../docs/config.md', import.meta.url));
writeFileSync(target, renderConfigDocs());
process.stdout.write(`wrote ${target}\n`);
