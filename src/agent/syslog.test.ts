import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, formatRfc5424, parseSyslogUrl } from './syslog.js';

const o = { facility: 'daemon' as const, hostname: 'cam host', appName: 'cloudcam', procId: 42 };
const ev = { severity: 4, time: '2026-11-27T12:00:00.000Z', event: 'upload.retry', thing: 'cam-1', message: '{"a":1}' };

describe('formatRfc5424', () => {
  it('writes PRI = facility*8 + severity, version 1, and the header fields', () => {
    expect(formatRfc5424(ev, o)).toBe('<28>1 2026-11-27T12:00:00.000Z cam_host cloudcam 42 upload.retry [cloudcam@32473 thing="cam-1"] {"a":1}');
  });

  it('escapes SD-PARAM values and keeps one line', () => {
    const line = formatRfc5424({ ...ev, requestId: 'x"]\\y', message: 'a\nb\r\nc' }, o);
    expect(line).toContain('[cloudcam@32473 thing="cam-1" id="x\\"\\]\\\\y"]');
    expect(line.endsWith('a b c')).toBe(true);
  });

  it('caps a line at MAX_MESSAGE_BYTES on a character boundary', () => {
    const line = formatRfc5424({ ...ev, message: 'é'.repeat(10_000) }, o);
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(line).not.toContain('\uFFFD');
  });

  it('MSGID is printable ASCII, at most 32 characters, "-" when empty', () => {
    expect(formatRfc5424({ ...ev, event: 'a b'.repeat(20) }, o).split(' ')[5]).toMatch(/^[\x21-\x7e]{32}$/);
    expect(formatRfc5424({ ...ev, event: '' }, o).split(' ')[5]).toBe('-');
  });
});

describe('parseSyslogUrl', () => {
  it.each([
    ['', undefined],
    ['udp://10.0.0.5:514', { protocol: 'udp', host: '10.0.0.5', port: 514 }],
    ['tcp://logs.example.com:6514', { protocol: 'tcp', host: 'logs.example.com', port: 6514 }],
    ['tcp://[::1]:514', { protocol: 'tcp', host: '::1', port: 514 }],
  ])('%s', (raw, want) => {
    expect(parseSyslogUrl(raw)).toEqual(want);
  });

  it.each(['10.0.0.5:514', 'http://x:514', 'udp://x', 'udp://x:0', 'udp://x:70000', 'unix:///dev/log'])('refuses %s with an example', (raw) => {
    expect(() => parseSyslogUrl(raw)).toThrow(/udp:\/\/HOST:PORT or tcp:\/\/HOST:PORT/);
  });
});
