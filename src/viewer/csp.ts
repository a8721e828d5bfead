/**
 * The viewer web app's Content-Security-Policy, in one place: devcloud sends it on every static file
 * (src/devcloud/viewer.ts) and the AWS stack puts it into CloudFront's response-headers policy
 * (infra/viewer-edge.ts). The app loads its own scripts, styles and API from its own origin, pictures
 * from S3 (presigned URLs) and talks to the sign-in issuer (token endpoint); nothing else, so a script
 * injected into a page can neither run inline nor send the access token anywhere else.
 */
export interface ViewerCspOrigins {
  /** Where presigned snapshot URLs point (scheme://host of the S3 endpoint or bucket host). */
  images: string;
  /** The OAuth issuer the app signs in with (Cognito's domain in AWS). */
  signIn: string;
}

export function viewerContentSecurityPolicy(origins: ViewerCspOrigins): string {
  return [
    "default-src 'self'",
    `img-src 'self' ${origins.images}`,
    `connect-src 'self' ${origins.signIn}`,
    `form-action ${origins.signIn}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}
