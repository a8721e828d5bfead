import { describe, expect, it } from 'vitest';
import { executionLine } from './jobs-command.js';

describe('cloudcam jobs describe', () => {
  it("prints a device's statusDetails quoted, with C1 controls and bidi overrides escaped as well", () => {
    const line = executionLine({ thingName: 'camera-1', status: 'FAILED', versionNumber: 2, statusDetails: { reason: 'a\u001b[2Jb\u009b2Jc\u202ed' } }, 8);
    expect(line).toBe('  camera-1  FAILED       v2  reason="a\\u001b[2Jb\\u009b2Jc\\u202ed"');
  });
});
