import { describe, expect, it } from 'vitest';
import { notAuthorized, readConnect, withCredentials } from './connect-packet.js';

const str = (s: string): Buffer => Buffer.concat([Buffer.from([0, Buffer.byteLength(s)]), Buffer.from(s)]);

/** An MQTT 3.1.1 CONNECT (section 3.1) with a will and a username the client chose. */
function connect311(): Buffer {
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0x80 | 0x04 | 0x02, 0, 60]), str('cam-1'), str('will/topic'), str('offline'), str('chosen-by-client')]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

describe('readConnect', () => {
  it('waits for the whole packet, then reads the client id and where the credentials start', () => {
    const packet = connect311();
    expect(readConnect(packet.subarray(0, 1))).toBeUndefined();
    expect(readConnect(packet.subarray(0, packet.length - 1))).toBeUndefined();
    const read = readConnect(Buffer.concat([packet, Buffer.from([0xc0, 0x00])]));
    expect(read).toMatchObject({ level: 4, clientId: 'cam-1' });
    expect(read?.bytes.length).toBe(packet.length);
  });

  it('reads an MQTT 5 CONNECT with properties', () => {
    const body = Buffer.concat([str('MQTT'), Buffer.from([5, 0x02, 0, 60, 5, 0x11, 0, 0, 0x0e, 0x10]), str('cam-5')]);
    expect(readConnect(Buffer.concat([Buffer.from([0x10, body.length]), body]))).toMatchObject({ level: 5, clientId: 'cam-5' });
  });

  it('refuses a first packet that is not a CONNECT, or one shorter than its fields', () => {
    expect(() => readConnect(Buffer.from([0x30, 0x00]))).toThrow(/not a CONNECT/);
    expect(() => readConnect(Buffer.from([0x10, 0x03, 0x00, 0x04, 0x4d]))).toThrow(/shorter than its fields/);
  });
});

describe('withCredentials', () => {
  it('replaces what the client sent as username and password, keeping the will', () => {
    const rewritten = withCredentials(readConnect(connect311())!, 'cam-1', 's3cret');
    const again = readConnect(rewritten)!;
    expect(again.clientId).toBe('cam-1');
    const flags = rewritten[again.flagsAt]!;
    expect(flags & 0xc0).toBe(0xc0);
    expect(flags & 0x04).toBe(0x04);
    expect(rewritten.subarray(again.credentialsAt)).toEqual(Buffer.concat([str('cam-1'), str('s3cret')]));
    expect(rewritten.includes('chosen-by-client')).toBe(false);
    expect(rewritten.includes('offline')).toBe(true);
  });
});

describe('notAuthorized', () => {
  it('is CONNACK code 5 for MQTT 3.1.1 and reason 0x87 for MQTT 5', () => {
    expect([...notAuthorized(4)]).toEqual([0x20, 2, 0, 5]);
    expect([...notAuthorized(5)]).toEqual([0x20, 3, 0, 0x87, 0]);
  });
});
