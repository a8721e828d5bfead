/**
 * How every VAPIX failure reaches a caller: a VapixError whose kind says what went wrong and whose
 * message says what to do about it, and the wording of an HTTP status an API did not expect.
 */

export type VapixErrorKind = 'auth' | 'http' | 'timeout' | 'too-large' | 'truncated' | 'network' | 'tls' | 'not-jpeg';

export class VapixError extends Error {
  readonly kind: VapixErrorKind;
  readonly status?: number;
  /** What to do, when the message's fix is worth showing on its own (tls). */
  readonly fix?: string;
  constructor(kind: VapixErrorKind, message: string, opts: { status?: number; cause?: unknown; fix?: string } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'VapixError';
    this.kind = kind;
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.fix !== undefined) this.fix = opts.fix;
  }
}

/** A short printable excerpt of a reply, for error messages. */
export function excerpt(buf: Buffer, max = 160): string {
  const s = buf.subarray(0, max).toString('latin1').replace(/[^\x20-\x7e]+/g, ' ').trim();
  return buf.length > max ? `${s}...` : s;
}

/** An HTTP status the API does not answer with on success, as a VapixError naming the likely fix. */
export function statusError(status: number, path: string, body: Buffer, username: string): VapixError {
  const detail = excerpt(body.subarray(0, 4096));
  const hint =
    status === 503
      ? 'the camera is busy or starting up; try again later'
      : status === 404
        ? `the camera has no ${path.split('?')[0]}; check camera.url and that it is an Axis camera with VAPIX`
        : status === 403
          ? `user "${username}" lacks the rights for this call; give it the operator role`
          : status === 400
            ? 'the camera rejected the request arguments (e.g. a resolution it does not support)'
            : 'unexpected camera reply';
  return new VapixError('http', `camera answered ${path} with HTTP ${status}${detail ? ` "${detail}"` : ''}: ${hint}`, { status });
}
