/**
 * Which H.264 entry of a viewer's offer the agent answers (RFC 6184 §8.1-8.2.2). The offer below is
 * chromium's video section as DESIGN.md §8 lists its H.264 capabilities (42001f, 42e01f, 4d001f,
 * f4001f, each with packetization-mode 0 and 1).
 */
import { describe, expect, it } from 'vitest';
import { chooseH264Answer, offeredH264 } from './h264-offer.js';

const entries: [number, string, 0 | 1][] = [
  [102, '42001f', 1],
  [103, '42001f', 0],
  [106, '42e01f', 1],
  [107, '42e01f', 0],
  [112, '4d001f', 1],
  [113, 'f4001f', 1],
];
const offer = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  `m=video 9 UDP/TLS/RTP/SAVPF 96 ${entries.map((e) => e[0]).join(' ')}`,
  'a=rtpmap:96 VP8/90000',
  ...entries.flatMap(([pt, pli, mode]) => [`a=rtpmap:${pt} H264/90000`, `a=fmtp:${pt} level-asymmetry-allowed=1;packetization-mode=${mode};profile-level-id=${pli}`]),
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'a=rtpmap:111 H264/90000',
  'a=fmtp:111 packetization-mode=1;profile-level-id=640028',
  '',
].join('\r\n');

describe('offeredH264', () => {
  it('lists the packetization-mode 1 entries of the video section only', () => {
    expect(offeredH264(offer)).toEqual([
      { payloadType: 102, profileLevelId: '42001f' },
      { payloadType: 106, profileLevelId: '42e01f' },
      { payloadType: 112, profileLevelId: '4d001f' },
      { payloadType: 113, profileLevelId: 'f4001f' },
    ]);
  });
});

describe('chooseH264Answer', () => {
  it('answers the same profile with the camera’s own profile-level-id (another level)', () => {
    const choice = chooseH264Answer(offer, '42e028')!;
    expect(choice).toMatchObject({ payloadType: 106, profileLevelId: '42e028', cameraProfile: true });
    expect(choice.sdp).toContain('a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e028');
    expect(choice.sdp).toContain('a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f');
  });

  it('matches a Main-profile camera to the Main entry', () => {
    expect(chooseH264Answer(offer, '4d0029')).toMatchObject({ payloadType: 112, profileLevelId: '4d0029', cameraProfile: true });
  });

  it('answers a High-profile camera with the viewer’s Constrained Baseline entry when High is not offered', () => {
    expect(chooseH264Answer(offer, '640028')).toMatchObject({ payloadType: 106, profileLevelId: '42e01f', cameraProfile: false, sdp: offer });
  });

  it('gives up on an offer without packetization-mode 1 H.264', () => {
    expect(chooseH264Answer(offer.replaceAll('packetization-mode=1', 'packetization-mode=0'), '42e01f')).toBeUndefined();
    expect(chooseH264Answer('v=0\r\nm=video 9 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n', '42e01f')).toBeUndefined();
  });
});
