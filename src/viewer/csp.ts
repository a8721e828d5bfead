/**
 * The viewer web app's Content-Security-Policy, in one place: devcloud sends it on every static file
 * (src/devcloud/viewer.ts) and the AWS stack puts it into CloudFront's response-headers policy
 * (infra/viewer-edge.ts). The app loads its own scripts, styles and API from its own origin, pictures
 * from S3 (presigned URLs), talks to the sign-in issuer (token endpoint) and opens live view's
 * signalling WebSocket (Kinesis Video Streams; docs/security.md "Live view"); nothing else, so a script
 * injected into a page can neither run inline nor send the access token anywhere else.
 */
export interface ViewerCspOrigins {
  /** Where presigned snapshot URLs point (scheme://host of the S3 endpoint or bucket host). */
  images: string;
  /** The OAuth issuer the app signs in with (Cognito's domain in AWS). */
  signIn: string;
  /**
   * The KVS signalling WebSocket origin(s) live view connects to: devcloud's one wss://127.0.0.1:port;
   * in AWS `wss://*.kinesisvideo.{region}.amazonaws.com` (each channel's endpoint is a host of its own).
   */
  signalling: string;
}

export function viewerContentSecurityPolicy(origins: ViewerCspOrigins): string {
  return [
    "default-src 'self'",
    `img-src 'self' ${origins.images}`,
    `connect-src 'self' ${origins.signIn} ${origins.signalling}`,
    // The live picture is a MediaStream in a <video>: no media URL is loaded.
    "media-src 'self'",
    `form-action ${origins.signIn}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** The CSP source of AWS's KVS signalling WebSocket hosts in a region (e.g. wss://v-1a2b3c4d.kinesisvideo.eu-north-1.amazonaws.com). */
export function kvsSignallingOrigin(region: string): string {
  return `wss://*.kinesisvideo.${region}.amazonaws.com`;
}
