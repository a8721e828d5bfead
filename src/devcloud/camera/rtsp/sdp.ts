/**
 * The SDP the simulated camera answers DESCRIBE with, shaped like an Axis camera's (a recording of
 * one is in meetecho/janus-gateway issue #849: session-level `a=control:*`, one H.264 track with
 * packetization-mode=1, profile-level-id and sprop-parameter-sets, RFC 6184 §8.1 and §8.2.1).
 */
import type { H264Source } from '../h264/source.js';
import { H264_PAYLOAD_TYPE } from './packetizer.js';

export const TRACK_CONTROL = 'trackID=1';

export function describeSdp(source: H264Source, serverAddress: string, sessionVersion: number): string {
  const sprop = [source.sps, source.pps].map((n) => n.toString('base64')).join(',');
  const lines = [
    'v=0',
    `o=- ${sessionVersion} ${sessionVersion} IN IP4 ${serverAddress}`,
    's=Media Presentation',
    't=0 0',
    'a=control:*',
    'a=range:npt=0.000000-',
    `m=video 0 RTP/AVP ${H264_PAYLOAD_TYPE}`,
    'c=IN IP4 0.0.0.0',
    `a=framerate:${source.format.fps}`,
    `a=control:${TRACK_CONTROL}`,
    `a=rtpmap:${H264_PAYLOAD_TYPE} H264/90000`,
    `a=fmtp:${H264_PAYLOAD_TYPE} packetization-mode=1; profile-level-id=${source.profileLevelId}; sprop-parameter-sets=${sprop}`,
  ];
  return `${lines.join('\r\n')}\r\n`;
}
