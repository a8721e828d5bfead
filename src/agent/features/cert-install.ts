/**
 * What POST /certs of the local API does: validate a certificate and key against the device clock
 * (src/lib/certificate-check.ts, the same checks `cloudcam setup certs` runs on the laptop), and only
 * then write them 0600 into STATE_DIR/identity/ (identity-store.ts), put them on trial
 * (identity-trial.ts: rolled back unless the agent connects with them in time) and make the
 * connection reconnect with them. Nothing is written when anything is wrong. The log gets the
 * subject, the fingerprint and the certificate id; never the request body.
 *
 * The request's caPem only serves to check who issued the certificate (a clear error for a wrong
 * file); it is never stored and never trusted: the broker is trusted through iot.caPath alone, so no
 * request can change the trust anchor.
 */
import type { Logger } from '../../lib/log.js';
import { CertificateInputError, validateBundle } from '../../lib/certificate-check.js';
import { parseCertInstallRequest, type CertInstalled, type CertRefused } from '../../protocol/cert-install.js';
import type { FeatureConnection } from '../feature.js';
import { writeInstalledIdentity } from '../provisioning/identity-store.js';
import type { IdentityTrial } from '../provisioning/identity-trial.js';

export type CertInstallResult = { status: 200; body: CertInstalled } | { status: 400 | 500; body: CertRefused };

export function createCertInstaller(opts: { connection: Pick<FeatureConnection, 'tlsFiles' | 'reconnectWith'>; thing: string; stateDir: string; trial: IdentityTrial; log: Logger; now?: () => Date }): (body: string) => Promise<CertInstallResult> {
  const now = opts.now ?? (() => new Date());
  const log = opts.log.child({ component: 'cert-install' });
  let queue: Promise<unknown> = Promise.resolve();

  async function install(body: string): Promise<CertInstallResult> {
    const refuse = (problems: string[]): CertInstallResult => {
      log.warn({ event: 'certs.refused', problems }, `certificate install refused: ${problems.join('; ')}`);
      return { status: 400, body: { error: 'the certificate was not installed', problems } };
    };
    const bundle = parseCertInstallRequest(body);
    if ('problems' in bundle) return refuse(bundle.problems);
    let report;
    try {
      report = validateBundle(bundle, now());
    } catch (err) {
      if (err instanceof CertificateInputError) return refuse([err.message]);
      throw err;
    }
    if (report.problems.length > 0) return refuse(report.problems);
    let written;
    try {
      written = await writeInstalledIdentity(opts.stateDir, opts.connection.tlsFiles, { thingName: opts.thing, certificatePem: bundle.certPem, privateKeyPem: bundle.keyPem });
    } catch (err) {
      const message = `cannot write the identity into ${opts.stateDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check that the state dir is writable`;
      log.error({ event: 'certs.write-failed' }, message);
      return { status: 500, body: { error: 'the certificate was not installed', problems: [message] } };
    }
    const installed: CertInstalled = {
      thingName: opts.thing,
      subject: report.subject,
      issuer: report.issuer,
      fingerprint256: report.fingerprint256,
      notBefore: report.notBefore.toISOString(),
      notAfter: report.notAfter.toISOString(),
      key: report.key,
      certificateId: written.stored.certificateId,
    };
    log.info({ event: 'certs.installed', subject: installed.subject, fingerprint256: installed.fingerprint256, certificateId: installed.certificateId, notAfter: installed.notAfter }, `installed the certificate ${installed.subject}; reconnecting with it`);
    opts.trial.begin(written.files, installed.certificateId);
    opts.connection.reconnectWith(written.files, `a new device certificate was installed (${installed.fingerprint256})`);
    return { status: 200, body: installed };
  }

  // One install at a time: two at once would interleave their file writes.
  return (body) => {
    const run = queue.then(() => install(body));
    queue = run.catch(() => undefined);
    return run;
  };
}
