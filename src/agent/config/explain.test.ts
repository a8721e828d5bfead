import { describe, expect, it } from 'vitest';
import { ConfigError, nearestKey } from './explain.js';
import { schemaLeaves } from './keys.js';

describe('nearestKey', () => {
  it('finds typos and misplaced leaves but not unrelated words', () => {
    const keys = schemaLeaves().map((l) => l.key);
    expect(nearestKey('iot.ca_path', keys)).toBe('iot.caPath');
    expect(nearestKey('iot.password', keys)).toBe('camera.password');
    expect(nearestKey('completelyunrelatedsetting.xyz', keys)).toBeUndefined();
  });
});

describe('ConfigError', () => {
  it('lists every problem under the source it came from', () => {
    const err = new ConfigError(['a: wrong', 'b: missing'], 'file /etc/cloudcam.json + environment');
    expect(err.message).toBe('invalid cloudcam agent configuration (file /etc/cloudcam.json + environment):\n  - a: wrong\n  - b: missing');
    expect(err.problems).toEqual(['a: wrong', 'b: missing']);
  });
});
