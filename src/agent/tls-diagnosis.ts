import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';

/**
 * Turns what happened during one connection attempt into ONE log line that names the cause and
 * the fix. Connection flapping "for unclear reasons" is the most common complaint about IoT device
 * clients; most causes are few and recognisable from the TLS error code, the MQTT reason code, or
 * how far the attempt got before the server closed it.
 */

export type DiagnosisCause =
  | 'clock-behind-server-cert'
  | 'server-cert-expired'
  | 'unknown-ca'
  | 'hostname-mismatch'
  | 'clock-behind-client-cert'
  | 'client-cert-expired'
  | 'client-cert-rejected'
  | 'tls-failed'
  | 'connect-not-authorized'
  | 'connect-refused'
  | 'policy-refused-connect'
  | 'session-taken-over'
  | 'server-disconnect'
  | 'server-closed'
  | 'keepalive-timeout'
  | 'connack-timeout'
  | 'connection-refused'
  | 'dns'
  | 'network'
  | 'credentials-unreadable'
  | 'other';

export interface Diagnosis {
  cause: DiagnosisCause;
  level: 'error' | 'warn';
  message: string;
}

export interface CertSummary {
  subject: string;
  validFrom: Date;
  validTo: Date;
  /** DNS and IP names from subjectAltName. */
  names: string[];
}

/** What one attempt got to, gathered by the connection. */
export interface AttemptFacts {
  /** The first error the socket or the MQTT client reported. */
  error?: unknown;
  /** The TLS handshake completed and the server certificate was accepted. */
  tlsEstablished: boolean;
  /** A CONNACK arrived (accepted or not). */
  connackReceived: boolean;
  /** Reason/return code of a refused CONNACK. */
  connackCode?: number;
  /** How long the session was up when the server ended it (only after an accepted CONNACK). */
  connectedForMs?: number;
  /** MQTT 5 DISCONNECT sent by the server. */
  disconnectReasonCode?: number;
  /** How many connected-then-closed-by-the-server attempts came right before this one. */
  previousServerCloses: number;
  serverCert?: CertSummary;
}

export interface DiagnosisContext {
  thingName: string;
  endpoint: string;
  port: number;
  mqttVersion: 4 | 5;
  caPath: string;
  certPath: string;
  connectTimeoutMs: number;
  /** The device clock (injected in tests). */
  now: Date;
  /** The local client certificate, read when a diagnosis needs it. */
  clientCert?: CertSummary;
}

export function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function summarizePeerCertificate(cert: PeerCertificate | undefined): CertSummary | undefined {
  if (!cert || !cert.valid_from) return undefined;
  return {
    subject: cert.subject?.CN ? `CN=${String(cert.subject.CN)}` : 'no CN',
    validFrom: new Date(cert.valid_from),
    validTo: new Date(cert.valid_to),
    names: parseAltNames(cert.subjectaltname),
  };
}

/** Validity and names of a PEM certificate file; undefined if it cannot be read or parsed. */
export function readCertificateSummary(path: string): CertSummary | undefined {
  try {
    const cert = new X509Certificate(fs.readFileSync(path));
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
    return {
      subject: cn ? `CN=${cn}` : 'no CN',
      validFrom: new Date(cert.validFrom),
      validTo: new Date(cert.validTo),
      names: parseAltNames(cert.subjectAltName),
    };
  } catch {
    return undefined;
  }
}

function parseAltNames(san: string | undefined): string[] {
  if (!san) return [];
  return san
    .split(/,\s*/)
    .map((s) => s.replace(/^(DNS|IP Address):/, ''))
    .filter((s) => s.length > 0);
}

// OpenSSL verify results as Node names them (err.code).
const UNKNOWN_CA_CODES = new Set([
  'CERT_SIGNED_BY_UNKNOWN_CA',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
]);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);
const NETWORK_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL']);
const CLOSED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** TLS alerts a server sends about the client certificate (RFC 8446 section 6.2). */
const CLIENT_CERT_ALERTS: Record<number, string> = {
  42: 'bad certificate',
  43: 'unsupported certificate',
  44: 'certificate revoked',
  45: 'certificate expired',
  46: 'certificate unknown',
  48: 'unknown ca',
  49: 'access denied',
  116: 'certificate required',
};
const ALERT_BY_NAME = Object.fromEntries(Object.entries(CLIENT_CERT_ALERTS).map(([n, name]) => [name.replace(/ /g, '_').toUpperCase(), Number(n)]));

/** The TLS alert number in an OpenSSL error, from "SSL alert number 45" or ERR_SSL_..._ALERT_CERTIFICATE_EXPIRED. */
export function tlsAlertNumber(err: unknown): number | undefined {
  if (!(err instanceof Error)) return undefined;
  const byNumber = /alert number (\d+)/i.exec(err.message);
  if (byNumber) return Number(byNumber[1]);
  const code = errorCode(err);
  const byCode = typeof code === 'string' ? /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code) : null;
  if (byCode) return ALERT_BY_NAME[byCode[1] ?? ''];
  return undefined;
}

function errorCode(err: unknown): string | number | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const { code } = err;
  return typeof code === 'string' || typeof code === 'number' ? code : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0').toUpperCase()}`;

/** MQTT reason code names (v5 table 2-6; v3.1.1 CONNACK return codes for 1-5). */
const REASON_NAMES: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
  0x80: 'unspecified error',
  0x81: 'malformed packet',
  0x82: 'protocol error',
  0x83: 'implementation specific error',
  0x84: 'unsupported protocol version',
  0x85: 'client identifier not valid',
  0x86: 'bad user name or password',
  0x87: 'not authorized',
  0x88: 'server unavailable',
  0x89: 'server busy',
  0x8a: 'banned',
  0x8b: 'server shutting down',
  0x8d: 'keep alive timeout',
  0x8e: 'session taken over',
  0x93: 'receive maximum exceeded',
  0x95: 'packet too large',
  0x96: 'message rate too high',
  0x97: 'quota exceeded',
  0x98: 'administrative action',
  0x9c: 'use another server',
  0x9d: 'server moved',
  0x9f: 'connection rate exceeded',
};

export function reasonName(code: number): string {
  return REASON_NAMES[code] ?? 'unknown reason';
}

const NTP_FIX = 'set NTP (cloudcam setup ntp)';

export function diagnose(facts: AttemptFacts, ctx: DiagnosisContext): Diagnosis {
  const err = facts.error;
  const code = errorCode(err);
  const now = iso(ctx.now);
  const where = `${ctx.endpoint}:${ctx.port}`;

  if (facts.connackCode !== undefined) return connackDiagnosis(facts.connackCode, ctx);
  if (facts.disconnectReasonCode !== undefined) return disconnectDiagnosis(facts.disconnectReasonCode, facts, ctx);

  if (code === 'CERT_NOT_YET_VALID') {
    const c = facts.serverCert;
    return {
      cause: 'clock-behind-server-cert',
      level: 'error',
      message: c
        ? `TLS: the server certificate of ${where} (${c.subject}) is not valid yet: device clock says ${now}; the certificate is valid from ${iso(c.validFrom)}. The device clock is wrong: ${NTP_FIX}`
        : `TLS: the server certificate of ${where} is not valid yet: device clock says ${now}. The device clock is probably wrong: ${NTP_FIX}`,
    };
  }
  if (code === 'CERT_HAS_EXPIRED') {
    const c = facts.serverCert;
    return {
      cause: 'server-cert-expired',
      level: 'error',
      message: `TLS: the server certificate of ${where}${c ? ` (${c.subject}) expired on ${iso(c.validTo)}` : ' has expired'}; device clock says ${now}. If the clock is right the server needs a new certificate; if it is not, ${NTP_FIX}`,
    };
  }
  if (typeof code === 'string' && UNKNOWN_CA_CODES.has(code)) {
    return {
      cause: 'unknown-ca',
      level: 'error',
      message: `TLS: iot.caPath (${ctx.caPath}) does not hold the CA that signed the server certificate of ${where} (${code}); for AWS use AmazonRootCA1.pem`,
    };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const fromError = summarizePeerCertificate((err as { cert?: PeerCertificate }).cert);
    const c = facts.serverCert ?? fromError;
    const names = c && c.names.length > 0 ? c.names.join(', ') : (c?.subject ?? 'unknown');
    return {
      cause: 'hostname-mismatch',
      level: 'error',
      message: `TLS: iot.endpoint ${ctx.endpoint} does not match the server certificate (names: ${names}); use the endpoint name from \`aws iot describe-endpoint --endpoint-type iot:Data-ATS\``,
    };
  }

  const alert = tlsAlertNumber(err);
  if (alert !== undefined && CLIENT_CERT_ALERTS[alert] !== undefined) return clientCertDiagnosis(alert, ctx);

  if (code === 'ECONNREFUSED') {
    return {
      cause: 'connection-refused',
      level: 'error',
      message: `nothing accepts connections at ${where} (ECONNREFUSED): check iot.endpoint and iot.port (AWS IoT: 8883, or 443) and that the broker is up`,
    };
  }
  if (typeof code === 'string' && DNS_CODES.has(code)) {
    return {
      cause: 'dns',
      level: 'error',
      message: `cannot resolve iot.endpoint ${ctx.endpoint} (${code}): check the name and the camera's DNS settings`,
    };
  }
  if (typeof code === 'string' && NETWORK_CODES.has(code)) {
    return {
      cause: 'network',
      level: 'error',
      message: `cannot reach ${where} (${code}): check the camera's network, gateway and that the firewall lets TCP port ${ctx.port} out`,
    };
  }
  if (typeof code === 'string' && code.startsWith('ERR_SSL_') && !facts.tlsEstablished) {
    return { cause: 'tls-failed', level: 'error', message: `TLS handshake with ${where} failed: ${errorMessage(err)} (${code})` };
  }
  if (err instanceof Error && err.message === 'connack timeout') {
    return facts.tlsEstablished
      ? {
          cause: 'connack-timeout',
          level: 'error',
          message: `no CONNACK within iot.connectTimeoutMs (${ctx.connectTimeoutMs} ms) after CONNECT: is ${where} an MQTT broker? Check iot.port`,
        }
      : {
          cause: 'connack-timeout',
          level: 'error',
          message: `no TLS connection to ${where} within iot.connectTimeoutMs (${ctx.connectTimeoutMs} ms): the network is slow or a firewall drops the traffic; check that TCP port ${ctx.port} is open outbound`,
        };
  }
  if (err instanceof Error && err.message === 'Keepalive timeout') {
    return {
      cause: 'keepalive-timeout',
      level: 'warn',
      message: `the broker stopped answering keep-alive pings (iot.keepaliveSeconds); the network dropped, reconnecting`,
    };
  }

  const closedQuietly = err === undefined || (typeof code === 'string' && CLOSED_CODES.has(code));
  if (closedQuietly && facts.tlsEstablished && !facts.connackReceived) {
    // AWS IoT answers a CONNECT its policy does not allow by closing the socket, without CONNACK.
    // A client certificate outside its validity window looks the same, so rule that out first.
    return clientCertWindowDiagnosis(ctx) ?? {
      cause: 'policy-refused-connect',
      level: 'error',
      message: `TLS to ${where} succeeded but the server closed the connection after CONNECT without a CONNACK: the IoT policy attached to this certificate probably does not allow iot:Connect as client id ${ctx.thingName} (or the certificate is not active)`,
    };
  }
  if (closedQuietly && facts.connackReceived) {
    const upFor = `${Math.round((facts.connectedForMs ?? 0) / 1000)} s`;
    // MQTT 3.1.1 has no DISCONNECT from the server, and some MQTT 5 brokers (mosquitto 2.0.11)
    // do not send 0x8E either: a takeover then shows only as repeated quiet closes.
    if (facts.previousServerCloses >= 1) {
      return sessionTakenOver(ctx, `the server closed the session again after ${upFor} without an error`);
    }
    return {
      cause: 'server-closed',
      level: 'warn',
      message: `the server closed the connection after ${upFor} without a reason${code ? ` (${code})` : ''}; reconnecting`,
    };
  }
  if (closedQuietly && !facts.tlsEstablished) {
    return {
      cause: 'tls-failed',
      level: 'error',
      message: `${where} closed the connection during the TLS handshake${code ? ` (${code})` : ''}: the server may have rejected the client certificate iot.certPath (${ctx.certPath}), or iot.port is not an MQTT-over-TLS port (AWS IoT: 8883, or 443)`,
    };
  }
  return { cause: 'other', level: 'error', message: `connection to ${where} failed: ${errorMessage(err)}${code !== undefined ? ` (${code})` : ''}` };
}

function connackDiagnosis(rc: number, ctx: DiagnosisContext): Diagnosis {
  const what = `the broker refused CONNECT (CONNACK ${hex(rc)} ${reasonName(rc)})`;
  if (rc === 0x87 || rc === 0x86 || rc === 0x05 || rc === 0x04) {
    return {
      cause: 'connect-not-authorized',
      level: 'error',
      message: `${what}: the IoT policy attached to this certificate probably does not allow iot:Connect as client id ${ctx.thingName}`,
    };
  }
  if (rc === 0x84 || rc === 0x01) {
    return { cause: 'connect-refused', level: 'error', message: `${what}: set iot.mqttVersion to "${ctx.mqttVersion === 5 ? '3.1.1' : '5'}"` };
  }
  if (rc === 0x85 || rc === 0x02) {
    return { cause: 'connect-refused', level: 'error', message: `${what}: the broker does not accept thingName ${ctx.thingName} as client id` };
  }
  return { cause: 'connect-refused', level: 'error', message: `${what}; retrying` };
}

function disconnectDiagnosis(rc: number, facts: AttemptFacts, ctx: DiagnosisContext): Diagnosis {
  if (rc === 0x8e) return sessionTakenOver(ctx, 'MQTT DISCONNECT 0x8E session taken over');
  const upFor = facts.connectedForMs !== undefined ? ` after ${Math.round(facts.connectedForMs / 1000)} s` : '';
  const what = `the broker disconnected this client${upFor} (DISCONNECT ${hex(rc)} ${reasonName(rc)})`;
  if (rc === 0x87) {
    return {
      cause: 'server-disconnect',
      level: 'error',
      message: `${what}: the IoT policy of this certificate does not allow something the agent did (a publish or subscribe); check the policy's iot:Publish/iot:Subscribe/iot:Receive resources for thing ${ctx.thingName}`,
    };
  }
  return { cause: 'server-disconnect', level: rc === 0x8b || rc === 0x8d ? 'warn' : 'error', message: `${what}; reconnecting` };
}

function sessionTakenOver(ctx: DiagnosisContext, evidence: string): Diagnosis {
  return {
    cause: 'session-taken-over',
    level: 'error',
    message: `another client connected with the same client id ${ctx.thingName} (${evidence}); each camera needs its own thing name`,
  };
}

/** The client certificate outside its validity window, by the device clock; undefined if inside. */
function clientCertWindowDiagnosis(ctx: DiagnosisContext): Diagnosis | undefined {
  const c = ctx.clientCert;
  if (!c) return undefined;
  const now = ctx.now.getTime();
  if (now < c.validFrom.getTime()) {
    return {
      cause: 'clock-behind-client-cert',
      level: 'error',
      message: `the server rejected the client certificate: device clock says ${iso(ctx.now)}; the certificate iot.certPath (${ctx.certPath}) is valid from ${iso(c.validFrom)}. The device clock is wrong: ${NTP_FIX}`,
    };
  }
  if (now > c.validTo.getTime()) {
    return {
      cause: 'client-cert-expired',
      level: 'error',
      message: `the client certificate iot.certPath (${ctx.certPath}, ${c.subject}) expired on ${iso(c.validTo)} (device clock says ${iso(ctx.now)}): issue a new certificate for ${ctx.thingName}, or ${NTP_FIX} if the clock is wrong`,
    };
  }
  return undefined;
}

function clientCertDiagnosis(alert: number, ctx: DiagnosisContext): Diagnosis {
  const window = clientCertWindowDiagnosis(ctx);
  if (window) return window;
  const name = CLIENT_CERT_ALERTS[alert] ?? 'unknown';
  const cert = `iot.certPath (${ctx.certPath})`;
  const fix =
    alert === 48
      ? `the server does not trust the CA that issued ${cert}: register that CA (or the certificate) with AWS IoT, or use the certificate devcloud issued`
      : alert === 116
        ? `the server requires a client certificate: check iot.certPath and iot.keyPath`
        : alert === 45
          ? `the server considers ${cert} expired although the device clock (${iso(ctx.now)}) does not: check the server's clock or issue a new certificate`
          : `${cert} is not registered, not active or revoked on the server: activate it in AWS IoT (aws iot update-certificate --new-status ACTIVE) or provision a new one`;
  return {
    cause: 'client-cert-rejected',
    level: 'error',
    message: `TLS: the server rejected the client certificate (alert ${alert} ${name}): ${fix}`,
  };
}
