import { describe, expect, it } from 'vitest';
import type { ConfigSchema } from './agent-config.js';
import { formatDoc } from './formats.js';
import { schemaLeaves } from './keys.js';
import { claimModeSchema, configSchema } from './schema.js';

// The type checks below are the test: `npx tsc -p tsconfig.json --noEmit` fails when a line under an
// expect-error directive compiles (the directive is then unused). The runtime parts keep vitest honest.

describe('schema typing', () => {
  it('does not compile with a misspelt format name', () => {
    const schema: ConfigSchema<{ timeoutMs: number }> = {
      // @ts-expect-error 'cloudcam-msec' is not in formats.ts (the format is 'cloudcam-ms')
      timeoutMs: { doc: 'Timeout of one request.', format: 'cloudcam-msec', default: 1000 },
    };
    const right: ConfigSchema<{ timeoutMs: number }> = { timeoutMs: { doc: 'Timeout of one request.', format: 'cloudcam-ms', default: 1000 } };
    expect(schema.timeoutMs.format).not.toBe(right.timeoutMs.format);
  });

  it('does not compile with a hand-written env name, an enum value outside the type or a wrong default', () => {
    const schema: ConfigSchema<{ level: 'info' | 'debug'; port: number }> = {
      // @ts-expect-error env names are derived from the key path (keys.ts), never written
      level: { doc: 'Lowest severity that is logged.', format: ['info', 'debug'], default: 'info', env: 'CLOUDCAM_LVL' },
      // @ts-expect-error a string default for a number
      port: { doc: 'TCP port of the thing.', format: 'cloudcam-port', default: '8883' },
    };
    const levels: ConfigSchema<{ level: 'info' | 'debug' }> = {
      // @ts-expect-error 'verbose' is not a level
      level: { doc: 'Lowest severity that is logged.', format: ['info', 'verbose'], default: 'info' },
    };
    expect(Object.keys(schema)).toEqual(['level', 'port']);
    expect(levels.level.default).toBe('info');
  });

  it('names only formats that exist, in both the normal and the claim-mode schema', () => {
    for (const schema of [configSchema, claimModeSchema()]) {
      for (const { key, format } of schemaLeaves(schema)) {
        if (typeof format !== 'string' || format === 'port') continue; // 'port' is convict's own
        expect(formatDoc(format), `${key}: ${format}`).toBeDefined();
      }
    }
  });
});
