/**
 * `cloudcam setup certs` after local validation: POST the bundle through the camera's reverse proxy
 * (/local/{app}/api/certs, admin digest auth) to the agent's local API, then read the agent's status
 * until it is connected with the new certificate. Every failure comes back with what to do.
 */
import type { AgentStatus } from '../agent/features/local-api.js';
import type { CertBundle } from '../lib/certificate-check.js';
import type { CertInstalled, CertRefused } from '../protocol/cert-install.js';
import { VapixError, type VapixClient } from '../protocol/vapix.js';

export type InstallOutcome = { kind: 'installed'; installed: CertInstalled } | { kind: 'refused'; problems: string[] } | { kind: 'failed'; message: string; fix: string };

export async function postCertificates(camera: VapixClient, appName: string, b: CertBundle): Promise<InstallOutcome> {
  const path = `/local/${appName}/api/certs`;
  let res: { status: number; body: Buffer };
  try {
    res = await camera.call('POST', path, { body: JSON.stringify({ certificatePem: b.certPem, privateKey: b.keyPem, caPem: b.caPem }), contentType: 'application/json' });
  } catch (err) {
    if (err instanceof VapixError && err.kind === 'auth') {
      return { kind: 'failed', message: `the camera refused ${path}: ${err.message}`, fix: 'the certificate endpoint is admin-only: store an administrator account with `cloudcam camera add`' };
    }
    return { kind: 'failed', message: `cannot reach ${path}: ${(err as Error).message}`, fix: 'check the camera is reachable (`cloudcam setup check`)' };
  }
  const text = res.body.toString('utf8');
  if (res.status === 200) return { kind: 'installed', installed: JSON.parse(text) as CertInstalled };
  if (res.status === 400) {
    const refused = parse<CertRefused>(text);
    return { kind: 'refused', problems: refused?.problems ?? [text.slice(0, 200)] };
  }
  if (res.status === 401 || res.status === 403) {
    return { kind: 'failed', message: `the camera refused ${path} (HTTP ${res.status})`, fix: 'the certificate endpoint is admin-only: store an administrator account with `cloudcam camera add`' };
  }
  if (res.status === 404) return { kind: 'failed', message: `${path} not found (HTTP 404): ${appName} is not installed, not running, or too old for certificate install`, fix: 'run `cloudcam install` (it starts the app), then try again' };
  if (res.status === 503) return { kind: 'failed', message: `${appName} is installed but its local API does not answer (HTTP 503)`, fix: 'restart the app (`cloudcam install --force`) and read its log in the camera\'s system log' };
  return { kind: 'failed', message: `${path} answered HTTP ${res.status}: ${(parse<{ error?: string }>(text)?.error ?? text).slice(0, 300)}`, fix: 'read the app log in the camera\'s system log' };
}

/**
 * Polls the agent's status until it is connected with the certificate of `fingerprint256`, or
 * until timeoutMs; resolves with the last status seen either way.
 */
export async function waitForAgentIdentity(camera: VapixClient, appName: string, fingerprint256: string, timeoutMs: number, pollMs = 500): Promise<{ ok: boolean; status?: AgentStatus; error?: string }> {
  const deadline = Date.now() + timeoutMs;
  let last: { ok: boolean; status?: AgentStatus; error?: string };
  for (;;) {
    try {
      const res = await camera.call('GET', `/local/${appName}/api/status`);
      if (res.status !== 200) last = { ok: false, error: `HTTP ${res.status} from /local/${appName}/api/status` };
      else {
        const status = JSON.parse(res.body.toString('utf8')) as AgentStatus;
        last = { ok: status.connected && status.certificate?.fingerprint256 === fingerprint256, status };
      }
    } catch (err) {
      last = { ok: false, error: (err as Error).message };
    }
    if (last.ok || Date.now() + pollMs > deadline) return last;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function parse<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
