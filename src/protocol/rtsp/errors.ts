/**
 * Every way an RTSP exchange with a camera can fail, as one typed error: callers decide on `kind`
 * (retry later, tell the user the credentials are wrong, give up on a hostile peer), never on text.
 */
export type RtspErrorKind =
  /** TCP connection refused, reset or closed by the camera. */
  | 'connect'
  /** No answer (or no media) within the time allowed. */
  | 'timeout'
  /** The camera refused the credentials or offers no authentication this client accepts. */
  | 'auth'
  /** The camera answered with an error status. */
  | 'status'
  /** Bytes that are not RTSP, SDP or RTP as the RFCs define them. */
  | 'protocol'
  /** Something larger than this client's bounds (a line, a header count, a body, a frame). */
  | 'limit'
  /** The stream is not one this client can forward (no H.264 track, unsupported packetization). */
  | 'media'
  /** The session was closed on purpose. */
  | 'closed';

export class RtspError extends Error {
  override readonly name = 'RtspError';
  constructor(
    readonly kind: RtspErrorKind,
    message: string,
    readonly status?: number,
    /** Set when the camera refused this user's credentials (not merely an unsupported scheme): the fix is another account. */
    readonly refusedUser?: string,
  ) {
    super(message);
  }
}
