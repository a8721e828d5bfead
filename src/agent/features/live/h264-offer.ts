/**
 * Which of a viewer's H.264 offers the agent answers, and with which profile-level-id (RFC 6184 §8.1,
 * §8.2.2): packetization-mode 1 only (what the camera sends, and chromium offers), the camera's own
 * profile-level-id from its SPS when the viewer offered that profile (the level may differ: an answer
 * may name a different level, RFC 6184 §8.2.2 level-asymmetry-allowed), else the viewer's Constrained
 * Baseline entry unchanged (chromium decodes a High-profile stream negotiated as 42001f; DESIGN.md §8).
 *
 * werift matches an offered H.264 codec to its own only on an equal profile-level-id, so the chosen
 * entry's fmtp is rewritten to the profile-level-id the agent answers with before werift reads the offer.
 */

export interface OfferedH264 {
  payloadType: number;
  profileLevelId: string;
}

export interface AnswerChoice {
  /** The offer as werift should read it (the chosen entry's profile-level-id set to `profileLevelId`). */
  sdp: string;
  payloadType: number;
  /** What the answer carries. */
  profileLevelId: string;
  /** true: the camera's own; false: the viewer's, because it did not offer the camera's profile. */
  cameraProfile: boolean;
}

const PLI = /^[0-9a-f]{6}$/;

/** The H.264 entries of the first video m-section with packetization-mode=1, in offer order. */
export function offeredH264(sdp: string): OfferedH264[] {
  const lines = sdp.split(/\r?\n/);
  const h264 = new Set<number>();
  const fmtp = new Map<number, string>();
  let inVideo = false;
  let seenVideo = false;
  for (const line of lines) {
    if (line.startsWith('m=')) {
      if (seenVideo) break;
      inVideo = line.startsWith('m=video ');
      seenVideo ||= inVideo;
      continue;
    }
    if (!inVideo) continue;
    const rtpmap = /^a=rtpmap:(\d{1,3}) H264\/90000/i.exec(line);
    if (rtpmap) h264.add(Number(rtpmap[1]));
    const f = /^a=fmtp:(\d{1,3}) (.*)$/.exec(line);
    if (f) fmtp.set(Number(f[1]), f[2] ?? '');
  }
  const out: OfferedH264[] = [];
  for (const pt of h264) {
    const params = new Map((fmtp.get(pt) ?? '').split(';').map((p) => p.trim().split('=') as [string, string?]).map(([k, v]) => [k.toLowerCase(), (v ?? '').toLowerCase()]));
    if (params.get('packetization-mode') !== '1') continue;
    const pli = params.get('profile-level-id') ?? '42001f'; // RFC 6184 §8.1: absent means 42001f
    if (PLI.test(pli)) out.push({ payloadType: pt, profileLevelId: pli });
  }
  return out;
}

/** The entry to answer, or undefined when the viewer offered no H.264 with packetization-mode 1. */
export function chooseH264Answer(offerSdp: string, cameraProfileLevelId: string): AnswerChoice | undefined {
  const offered = offeredH264(offerSdp);
  const camera = cameraProfileLevelId.toLowerCase();
  const profile = (pli: string): string => pli.slice(0, 2);
  const profileAndConstraints = (pli: string): string => pli.slice(0, 4);
  const same = offered.find((o) => profileAndConstraints(o.profileLevelId) === profileAndConstraints(camera)) ?? offered.find((o) => profile(o.profileLevelId) === profile(camera));
  if (same) return { sdp: rewriteProfileLevelId(offerSdp, same.payloadType, camera), payloadType: same.payloadType, profileLevelId: camera, cameraProfile: true };
  const fallback = offered.find((o) => o.profileLevelId.startsWith('42e0')) ?? offered.find((o) => o.profileLevelId.startsWith('42')) ?? offered[0];
  if (!fallback) return undefined;
  return { sdp: offerSdp, payloadType: fallback.payloadType, profileLevelId: fallback.profileLevelId, cameraProfile: false };
}

function rewriteProfileLevelId(sdp: string, payloadType: number, pli: string): string {
  return sdp.replace(new RegExp(`^(a=fmtp:${payloadType} .*?)profile-level-id=[0-9a-fA-F]{6}`, 'm'), `$1profile-level-id=${pli}`);
}
