import { describe, expect, it } from 'vitest';
import { channelNameOf, liveRequestTopic, parseLiveRequest } from './live-request.js';

describe('live request contract', () => {
  it('names the per-camera topic and channel', () => {
    expect(liveRequestTopic('camera-1')).toBe('cloudcam/camera-1/live/request');
    expect(channelNameOf('camera-1')).toBe('cloudcam-camera-1');
    expect(() => liveRequestTopic('a/#')).toThrow(/invalid thing name/);
  });

  it('parses a request and refuses what is not one, without quoting it', () => {
    expect(parseLiveRequest(JSON.stringify({ requestId: 'r-1', at: '2026-12-07T10:00:00Z' }))).toEqual({ ok: true, value: { requestId: 'r-1', at: '2026-12-07T10:00:00Z' } });
    expect(parseLiveRequest('not json')).toEqual({ ok: false, error: 'a live request must be a JSON object' });
    expect(parseLiveRequest('[]')).toMatchObject({ ok: false });
    const bad = parseLiveRequest(JSON.stringify({ requestId: 'secret value with spaces', at: '2026-12-07T10:00:00Z' }));
    expect(bad.ok).toBe(false);
    expect(JSON.stringify(bad)).toMatch(/requestId must be/);
    expect(JSON.stringify(bad)).not.toContain('secret');
    expect(parseLiveRequest(JSON.stringify({ requestId: 'r', at: 'yesterday' }))).toEqual({ ok: false, error: 'at must be an ISO 8601 time' });
  });
});
