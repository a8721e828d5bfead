/**
 * `cloudcam setup certs` after local validation: first make whatever answers /local/{app}/api/ prove
 * it is the agent (proveAgent: it signs a fresh nonce with its current device key; protocol/challenge.ts),
 * then POST the bundle through the camera's reverse proxy (/local/{app}/api/certs, admin digest auth)
 * to the agent's local API, then read the agent's status until it is connected with the new
 * certificate. Every failure comes back with what to do.
 */
import { randomBytes } from 'node:crypto';
import type { AgentStatus } from '../agent/features/local-api.js';
import type { CertBundle } from '../lib/certificate-check.js';
import { CERT_INSTALL_PATH, type CertInstalled, type CertRefused } from '../protocol/cert-install.js';
import { checkChallengeAnswer, CHALLENGE_NONCE_BYTES, CHALLENGE_PATH } from '../protocol/challenge.js';
import type { VapixClient } from '../protocol/vapix/client.js';
import { VapixError } from '../protocol/vapix/errors.js';

export type InstallOutcome = { kind: 'installed'; installed: CertInstalled } | { kind: 'refused'; problems: string[] } | { kind: 'failed'; message: string; fix: string };

type Failed = { kind: 'failed'; message: string; fix: string };

/** POSTs JSON to the agent's local API through the camera's reverse proxy; a failure says what to do. */
async function postToAgent(camera: VapixClient, appName: string, route: string, body: unknown): Promise<{ status: number; text: string } | Failed> {
  const path = `/local/${appName}/api${route}`;
  const adminOnly = 'the certificate endpoint is admin-only: store an administrator account with `cloudcam camera add`';
  let res: { status: number; body: Buffer };
  try {
    res = await camera.call('POST', path, { body: JSON.stringify(body), contentType: 'application/json', maxBytes: 64 * 1024 });
  } catch (err) {
    if (err instanceof VapixError && err.kind === 'auth') return { kind: 'failed', message: `the camera refused ${path}: ${err.message}`, fix: adminOnly };
    return { kind: 'failed', message: `cannot reach ${path}: ${(err as Error).message}`, fix: 'check the camera is reachable (`cloudcam setup check`)' };
  }
  const text = res.body.toString('utf8');
  if (res.status === 401 || res.status === 403) return { kind: 'failed', message: `the camera refused ${path} (HTTP ${res.status}): ${(parse<{ error?: string }>(text)?.error ?? '').slice(0, 300)}`, fix: adminOnly };
  if (res.status === 404) return { kind: 'failed', message: `${path} not found (HTTP 404): ${appName} is not installed, not running, or too old for certificate install`, fix: 'run `cloudcam install` (it starts the app), then try again' };
  if (res.status === 503) return { kind: 'failed', message: `${appName} is installed but its local API does not answer (HTTP 503)`, fix: "restart the app (`cloudcam install --force`) and read its log in the camera's system log" };
  return { status: res.status, text };
}

/**
 * Whether the agent answers: it signs a nonce of ours with the key of a certificate that a CA in
 * `caPem` issued. Anything else on the agent's port (a squatter) cannot, and is sent nothing more.
 */
export async function proveAgent(camera: VapixClient, appName: string, caPem: string): Promise<{ kind: 'proved'; thingName: string } | Failed> {
  const nonce = randomBytes(CHALLENGE_NONCE_BYTES).toString('base64url');
  const res = await postToAgent(camera, appName, CHALLENGE_PATH, { nonce });
  if ('kind' in res) return res;
  const path = `/local/${appName}/api${CHALLENGE_PATH}`;
  if (res.status !== 200) return { kind: 'failed', message: `${path} answered HTTP ${res.status}: ${(parse<{ error?: string }>(res.text)?.error ?? res.text).slice(0, 300)}`, fix: "read the app log in the camera's system log" };
  const answer = parse<unknown>(res.text);
  const problem = checkChallengeAnswer(nonce, answer, caPem);
  if (problem !== undefined) {
    return {
      kind: 'failed',
      message: `what answers ${path} did not prove it is the agent, so nothing was sent: ${problem}`,
      fix: 'if --ca lacks the issuer of the camera\'s current certificate, add it to --ca; otherwise another process may hold the agent\'s port: read the camera\'s system log for "local API cannot listen" and restart the app',
    };
  }
  return { kind: 'proved', thingName: (answer as { thingName: string }).thingName };
}

export async function postCertificates(camera: VapixClient, appName: string, b: CertBundle): Promise<InstallOutcome> {
  const res = await postToAgent(camera, appName, CERT_INSTALL_PATH, { certificatePem: b.certPem, privateKey: b.keyPem, caPem: b.caPem });
  if ('kind' in res) return res;
  const { status, text } = res;
  if (status === 200) return { kind: 'installed', installed: JSON.parse(text) as CertInstalled };
  if (status === 400) {
    const refused = parse<CertRefused>(text);
    return { kind: 'refused', problems: refused?.problems ?? [text.slice(0, 200)] };
  }
  return { kind: 'failed', message: `/local/${appName}/api${CERT_INSTALL_PATH} answered HTTP ${status}: ${(parse<{ error?: string }>(text)?.error ?? text).slice(0, 300)}`, fix: "read the app log in the camera's system log" };
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
        // Rolled back: the agent has given up on it, so waiting longer shows nothing new.
        if (status.identity?.state === 'rolled-back') return last;
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
