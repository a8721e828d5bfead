/**
 * The part of a camera's SDP (RFC 8866, formerly 4566) the agent needs: the H.264 video track's
 * payload type, control URL and format parameters (RFC 6184 §8.1: packetization-mode,
 * profile-level-id, sprop-parameter-sets). Bounded: the caller limits the body size, this limits
 * lines and parameter sets.
 */
import { RtspError } from './errors.js';
import { H264ParseError, NAL, nalType, parseSps, type SpsInfo } from './h264.js';

export interface H264Track {
  payloadType: number;
  clockRate: number;
  /** Control URL of the track, resolved against the base URL (RFC 2326 C.1.1). */
  control: string;
  packetizationMode: 0 | 1;
  /** From the fmtp line, lower-case hex, if the camera sent one. */
  profileLevelId?: string;
  /** SPS and PPS NAL units from sprop-parameter-sets. */
  parameterSets: Buffer[];
  /** The SPS from sprop-parameter-sets, parsed (undefined when the camera sends it only in-band). */
  sps?: SpsInfo;
}

const MAX_LINES = 512;
const MAX_PARAMETER_SETS = 8;
const MAX_PARAMETER_SET_BYTES = 1024;

interface Media {
  type: string;
  formats: string[];
  attributes: [string, string][];
}

/** The H.264 video track of an SDP; `base` is Content-Base, Content-Location or the request URL. */
export function parseH264Track(sdp: string, base: string): H264Track {
  const lines = sdp.split(/\r?\n/);
  if (lines.length > MAX_LINES) throw new RtspError('limit', `SDP with more than ${MAX_LINES} lines`);
  if (!/^v=0\s*$/.test(lines[0] ?? '')) throw new RtspError('protocol', 'SDP does not start with v=0 (RFC 8866 §5.1)');
  const session: [string, string][] = [];
  const media: Media[] = [];
  for (const line of lines) {
    if (line === '') continue;
    const m = /^([a-z])=(.*)$/.exec(line);
    if (!m) throw new RtspError('protocol', `malformed SDP line: ${JSON.stringify(line.slice(0, 80))}`);
    const [, key = '', value = ''] = m;
    if (key === 'm') {
      const parts = value.trim().split(/\s+/);
      media.push({ type: parts[0] ?? '', formats: parts.slice(3), attributes: [] });
    } else if (key === 'a') {
      const colon = value.indexOf(':');
      const attr: [string, string] = colon < 0 ? [value, ''] : [value.slice(0, colon), value.slice(colon + 1)];
      (media.at(-1)?.attributes ?? session).push(attr);
    }
  }
  const sessionControl = session.find(([k]) => k === 'control')?.[1];
  for (const m of media) {
    if (m.type !== 'video') continue;
    for (const [k, v] of m.attributes) {
      if (k !== 'rtpmap') continue;
      const rm = /^(\d{1,3})\s+H264\/(\d+)/i.exec(v);
      if (!rm || !m.formats.includes(rm[1] ?? '')) continue;
      return h264Track(m, Number(rm[1]), Number(rm[2]), resolveControl(base, sessionControl, m.attributes.find(([a]) => a === 'control')?.[1]));
    }
  }
  throw new RtspError('media', `the camera's SDP has no H.264 video track (media: ${media.map((m) => m.type).join(', ') || 'none'}): ask for videocodec=h264`);
}

function h264Track(m: Media, payloadType: number, clockRate: number, control: string): H264Track {
  if (clockRate !== 90000) throw new RtspError('media', `H.264 clock rate ${clockRate}: RFC 6184 requires 90000`);
  const fmtp = m.attributes.find(([k, v]) => k === 'fmtp' && v.startsWith(`${payloadType} `))?.[1] ?? '';
  const params = new Map<string, string>();
  for (const p of fmtp.slice(String(payloadType).length).split(';')) {
    const eq = p.indexOf('=');
    if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
  }
  const mode = params.get('packetization-mode') ?? '0';
  if (mode !== '0' && mode !== '1') {
    throw new RtspError('media', `H.264 packetization-mode=${mode.slice(0, 8)} (interleaved) is not supported; the camera should use mode 1 (RFC 6184 §6.3)`);
  }
  const track: H264Track = { payloadType, clockRate, control, packetizationMode: mode === '1' ? 1 : 0, parameterSets: [] };
  const pli = params.get('profile-level-id');
  if (pli !== undefined) {
    if (!/^[0-9a-fA-F]{6}$/.test(pli)) throw new RtspError('protocol', `profile-level-id ${JSON.stringify(pli.slice(0, 16))} is not 6 hex digits (RFC 6184 §8.1)`);
    track.profileLevelId = pli.toLowerCase();
  }
  const sprop = params.get('sprop-parameter-sets');
  if (sprop) {
    const sets = sprop.split(',');
    if (sets.length > MAX_PARAMETER_SETS) throw new RtspError('limit', `sprop-parameter-sets lists more than ${MAX_PARAMETER_SETS} sets`);
    for (const b64 of sets) {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length > (MAX_PARAMETER_SET_BYTES * 4) / 3 + 4) throw new RtspError('protocol', 'sprop-parameter-sets is not a list of base64 parameter sets (RFC 6184 §8.1)');
      track.parameterSets.push(Buffer.from(b64, 'base64'));
    }
    const sps = track.parameterSets.find((s) => s.length > 0 && nalType(s[0] ?? 0) === NAL.sps);
    if (sps) {
      try {
        track.sps = parseSps(sps);
      } catch (e) {
        if (e instanceof H264ParseError) throw new RtspError('protocol', `sprop-parameter-sets: ${e.message}`);
        throw e;
      }
    }
  }
  return track;
}

/** RFC 2326 C.1.1: an absolute control URL as is, a relative one against the base, `*` or none: the base. */
function resolveControl(base: string, sessionControl: string | undefined, mediaControl: string | undefined): string {
  const baseUrl = sessionControl && sessionControl !== '*' && /^rtsp:\/\//i.test(sessionControl) ? sessionControl : base;
  if (!mediaControl || mediaControl === '*') return baseUrl;
  if (/^rtsps?:\/\//i.test(mediaControl)) return mediaControl;
  try {
    return new URL(mediaControl, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString();
  } catch {
    throw new RtspError('protocol', `SDP control ${JSON.stringify(mediaControl.slice(0, 80))} is not a URL`);
  }
}
