import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate, type CertificateAuthority } from '../devcloud/pki.js';
import {
  LEVEL,
  PACKET,
  captureLog,
  connack,
  startScriptedServer,
  testConfig,
  writePair,
  type LogLine,
  type ScriptedServer,
} from '../../test/helpers/agent-connection-kit.js';
import { createConnection, type AgentConnection } from './connection.js';
import { diagnose, tlsAlertNumber, type AttemptFacts, type DiagnosisContext } from './tls-diagnosis.js';

const DAY = 86_400_000;
const THING = 'cam-diag-1';
const WILL = { topic: `cloudcam/${THING}/presence`, payload: '{"state":"offline"}', qos: 1 as const, retain: false };

let dir: string;
let ca: CertificateAuthority;
let caPath: string;
let pem: Record<'server' | 'expiredServer' | 'futureServer' | 'wrongNameServer' | 'rogueServer' | 'client' | 'expiredClient', { certPem: string; keyPem: string }>;
let files: Record<'client' | 'expiredClient', { certPath: string; keyPath: string }>;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cloudcam-diag-'));
  ca = await createCa('cloudcam test CA');
  const rogue = await createCa('rogue CA');
  const now = Date.now();
  const server = { commonName: 'localhost', usage: 'server' as const, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
  const client = { commonName: THING, usage: 'client' as const };
  const [srv, expiredServer, futureServer, wrongNameServer, rogueServer, cli, expiredClient] = await Promise.all([
    issueCertificate(ca, server),
    issueCertificate(ca, { ...server, notBefore: new Date('2019-01-01T00:00:00Z'), notAfter: new Date('2020-01-01T00:00:00Z') }),
    issueCertificate(ca, { ...server, notBefore: new Date(now + 365 * DAY), notAfter: new Date(now + 730 * DAY) }),
    issueCertificate(ca, { ...server, dnsNames: ['other.example.com'], ipAddresses: ['10.9.8.7'] }),
    issueCertificate(rogue, server),
    issueCertificate(ca, client),
    issueCertificate(ca, { ...client, notBefore: new Date('2019-01-01T00:00:00Z'), notAfter: new Date('2020-06-01T00:00:00Z') }),
  ]);
  pem = { server: srv, expiredServer, futureServer, wrongNameServer, rogueServer, client: cli, expiredClient };
  caPath = path.join(dir, 'ca.crt');
  await fs.writeFile(caPath, ca.certPem);
  files = { client: await writePair(dir, 'client', cli), expiredClient: await writePair(dir, 'expired-client', expiredClient) };
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

let server: ScriptedServer | undefined;
let conn: AgentConnection | undefined;
afterEach(async () => {
  await conn?.stop({ timeoutMs: 1000 });
  await server?.close();
  conn = undefined;
  server = undefined;
});

const isProblem = (l: LogLine): boolean => l.level >= LEVEL.warn && typeof l.cause === 'string';

/** Connects the real agent connection to a scripted TLS server and returns its first diagnosis line. */
async function firstDiagnosis(opts: {
  serverPem: { certPem: string; keyPem: string };
  clientFiles?: { certPath: string; keyPath: string };
  verifyClients?: boolean;
  onPacket?: Parameters<typeof startScriptedServer>[0]['onPacket'];
  mqttVersion?: 4 | 5;
  now?: () => Date;
  until?: (l: LogLine) => boolean;
}): Promise<{ line: LogLine; lines: LogLine[] }> {
  server = await startScriptedServer({
    cert: opts.serverPem.certPem,
    key: opts.serverPem.keyPem,
    ...(opts.verifyClients ? { clientCa: ca.certPem } : {}),
    ...(opts.onPacket ? { onPacket: opts.onPacket } : {}),
  });
  const captured = captureLog();
  const cfg = testConfig({ caPath, ...(opts.clientFiles ?? files.client) }, { thingName: THING, port: server.port, mqttVersion: opts.mqttVersion ?? 4 });
  conn = createConnection(cfg, { will: WILL, log: captured.log, ...(opts.now ? { now: opts.now } : {}) });
  conn.start();
  const line = await captured.waitFor(opts.until ?? isProblem);
  return { line, lines: captured.lines };
}

const FAKE_NOW = new Date('2019-01-01T00:00:00Z');

describe('diagnosis of real TLS failures', () => {
  it('expired server certificate: names the certificate, its expiry and the device time', async () => {
    const { line } = await firstDiagnosis({ serverPem: pem.expiredServer });
    expect(line.cause).toBe('server-cert-expired');
    expect(line.level).toBe(LEVEL.error);
    expect(line.msg).toMatch(/the server certificate of 127\.0\.0\.1:\d+ \(CN=localhost\) expired on 2020-01-01T00:00:00Z; device clock says \d{4}-/);
    expect(line.msg).toContain('set NTP (cloudcam setup ntp)');
  });

  it('server certificate not yet valid: says the clock is wrong and shows the device time', async () => {
    const { line } = await firstDiagnosis({ serverPem: pem.futureServer, now: () => FAKE_NOW });
    expect(line.cause).toBe('clock-behind-server-cert');
    expect(line.msg).toMatch(/device clock says 2019-01-01T00:00:00Z; the certificate is valid from \d{4}-\d\d-\d\dT[\d:]+Z\. The device clock is wrong: set NTP \(cloudcam setup ntp\)/);
  });

  it('server certificate from an unknown CA: points at iot.caPath and AmazonRootCA1.pem', async () => {
    const { line } = await firstDiagnosis({ serverPem: pem.rogueServer });
    expect(line.cause).toBe('unknown-ca');
    expect(line.msg).toContain(`iot.caPath (${caPath}) does not hold the CA that signed the server certificate`);
    expect(line.msg).toContain('for AWS use AmazonRootCA1.pem');
  });

  it('hostname mismatch: lists the names the certificate does have', async () => {
    const { line } = await firstDiagnosis({ serverPem: pem.wrongNameServer });
    expect(line.cause).toBe('hostname-mismatch');
    expect(line.msg).toContain('iot.endpoint 127.0.0.1 does not match the server certificate (names: other.example.com, 10.9.8.7)');
  });

  it('expired client certificate rejected by the server: blames the client certificate, with its expiry', async () => {
    const { line } = await firstDiagnosis({ serverPem: pem.server, clientFiles: files.expiredClient, verifyClients: true });
    expect(line.cause).toBe('client-cert-expired');
    expect(line.msg).toContain(`the client certificate iot.certPath (${files.expiredClient.certPath}, CN=${THING}) expired on 2020-06-01T00:00:00Z`);
  });

  it('client certificate rejected while the device clock is behind it: names the clock', async () => {
    // The certificate is fine by the real clock, but the device clock says 2019: the server's
    // rejection is blamed on the clock only when the local check agrees. Here it does not, so
    // force the rejection with a server that trusts another CA.
    const other = await createCa('other client CA');
    server = await startScriptedServer({ cert: pem.server.certPem, key: pem.server.keyPem, clientCa: other.certPem });
    const captured = captureLog();
    const cfg = testConfig({ caPath, ...files.client }, { thingName: THING, port: server.port });
    conn = createConnection(cfg, { will: WILL, log: captured.log, now: () => FAKE_NOW });
    conn.start();
    const line = await captured.waitFor(isProblem);
    expect(line.cause).toBe('clock-behind-client-cert');
    expect(line.msg).toMatch(/device clock says 2019-01-01T00:00:00Z; the certificate iot\.certPath \(.*client\.crt\) is valid from/);
  });

  it('client certificate the server drops without a TLS alert (clock fine): falls back to the policy/inactive-certificate message', async () => {
    // Node's TLS server checks client certificates after the handshake and just hangs up, as AWS
    // IoT does for an inactive certificate; OpenSSL servers send an alert (see the mosquitto test).
    const other = await createCa('other client CA');
    server = await startScriptedServer({ cert: pem.server.certPem, key: pem.server.keyPem, clientCa: other.certPem });
    const captured = captureLog();
    conn = createConnection(testConfig({ caPath, ...files.client }, { thingName: THING, port: server.port }), { will: WILL, log: captured.log });
    conn.start();
    const line = await captured.waitFor(isProblem);
    expect(line.cause).toBe('policy-refused-connect');
    expect(line.msg).toContain('(or the certificate is not active)');
  });

  it('server closes right after CONNECT without CONNACK: blames the IoT policy for iot:Connect', async () => {
    const { line } = await firstDiagnosis({
      serverPem: pem.server,
      verifyClients: true,
      onPacket: (socket, p) => {
        if (p.type === PACKET.CONNECT) socket.destroy();
      },
    });
    expect(line.cause).toBe('policy-refused-connect');
    expect(line.msg).toContain(`the IoT policy attached to this certificate probably does not allow iot:Connect as client id ${THING}`);
  });

  it('CONNACK "not authorized" (3.1.1 return code 5): blames the policy', async () => {
    const { line } = await firstDiagnosis({
      serverPem: pem.server,
      onPacket: (socket, p) => {
        if (p.type === PACKET.CONNECT) socket.end(connack(4, 5));
      },
    });
    expect(line.cause).toBe('connect-not-authorized');
    expect(line.msg).toContain(`CONNACK 0x05 not authorized`);
    expect(line.msg).toContain(`does not allow iot:Connect as client id ${THING}`);
  });

  it('MQTT 5 DISCONNECT 0x8E: another client took the client id', async () => {
    const { line } = await firstDiagnosis({
      serverPem: pem.server,
      mqttVersion: 5,
      onPacket: (socket, p) => {
        if (p.type === PACKET.CONNECT) {
          socket.write(connack(5, 0));
          setImmediate(() => socket.end(Buffer.from([0xe0, 2, 0x8e, 0])));
        }
      },
    });
    expect(line.cause).toBe('session-taken-over');
    expect(line.msg).toContain(`another client connected with the same client id ${THING}`);
    expect(line.msg).toContain('each camera needs its own thing name');
  });

  it('MQTT 3.1.1: a repeated quiet close after CONNACK is reported as a client-id takeover, once', async () => {
    const { lines } = await firstDiagnosis({
      serverPem: pem.server,
      onPacket: (socket, p) => {
        if (p.type === PACKET.CONNECT) {
          socket.write(connack(4, 0));
          setTimeout(() => socket.end(), 20);
        }
      },
      until: (l) => l.cause === 'session-taken-over' && l.level === LEVEL.error,
    });
    const problems = lines.filter(isProblem);
    expect(problems[0]?.cause).toBe('server-closed');
    expect(problems[0]?.level).toBe(LEVEL.warn);
    expect(problems[1]?.cause).toBe('session-taken-over');
    expect(problems[1]?.msg).toContain('the server closed the session again');
  });

  it('logs a repeating cause once per streak; later retries only at debug with attempt numbers', async () => {
    const { lines } = await firstDiagnosis({
      serverPem: pem.rogueServer,
      until: (l) => l.level === LEVEL.debug && (l.attempt ?? 0) >= 4 && typeof l.cause === 'string',
    });
    const errors = lines.filter((l) => l.level === LEVEL.error);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.attempt).toBe(1);
    const repeats = lines.filter((l) => l.level === LEVEL.debug && l.cause === 'unknown-ca');
    expect(repeats.map((l) => l.attempt)).toEqual(expect.arrayContaining([2, 3, 4]));
    expect(lines.some((l) => typeof l.delayMs === 'number' && l.msg === 'next connection attempt scheduled')).toBe(true);
  });
});

describe('diagnose (pure)', () => {
  const ctx: DiagnosisContext = {
    thingName: 'cam-9',
    endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
    port: 8883,
    mqttVersion: 5,
    caPath: '/etc/cloudcam/AmazonRootCA1.pem',
    certPath: '/etc/cloudcam/device.crt',
    connectTimeoutMs: 20_000,
    now: new Date('2026-03-01T12:00:00Z'),
  };
  const facts = (f: Partial<AttemptFacts>): AttemptFacts => ({ tlsEstablished: false, connackReceived: false, previousServerCloses: 0, ...f });
  const errWithCode = (message: string, code: string): Error => Object.assign(new Error(message), { code });

  it('maps every refused-CONNECT code of both versions to the policy message', () => {
    for (const rc of [0x87, 0x86, 0x05, 0x04]) {
      const d = diagnose(facts({ tlsEstablished: true, connackReceived: true, connackCode: rc }), ctx);
      expect(d.cause).toBe('connect-not-authorized');
      expect(d.message).toContain('does not allow iot:Connect as client id cam-9');
    }
    expect(diagnose(facts({ connackReceived: true, connackCode: 0x84 }), ctx).message).toContain('set iot.mqttVersion to "3.1.1"');
  });

  it('a client certificate the server calls expired is checked against the device clock first', () => {
    const alert45 = errWithCode('error:0A000415:SSL routines::sslv3 alert certificate expired:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 45', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED');
    expect(tlsAlertNumber(alert45)).toBe(45);
    const valid = { subject: 'CN=cam-9', validFrom: new Date('2026-01-01T00:00:00Z'), validTo: new Date('2027-01-01T00:00:00Z'), names: [] };
    const early = diagnose(facts({ error: alert45 }), { ...ctx, now: new Date('2019-01-01T00:00:00Z'), clientCert: valid });
    expect(early.cause).toBe('clock-behind-client-cert');
    expect(early.message).toContain('device clock says 2019-01-01T00:00:00Z; the certificate iot.certPath (/etc/cloudcam/device.crt) is valid from 2026-01-01T00:00:00Z');
    const inWindow = diagnose(facts({ error: alert45 }), { ...ctx, clientCert: valid });
    expect(inWindow.cause).toBe('client-cert-rejected');
    expect(inWindow.message).toContain("check the server's clock");
  });

  it('recognises the alert from the error code alone', () => {
    expect(tlsAlertNumber(errWithCode('x', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'))).toBe(48);
    expect(tlsAlertNumber(errWithCode('x', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'))).toBe(42);
    expect(tlsAlertNumber(errWithCode('x', 'ECONNRESET'))).toBeUndefined();
  });

  it('names network causes with the endpoint and the fix', () => {
    expect(diagnose(facts({ error: errWithCode('refused', 'ECONNREFUSED') }), ctx).message).toContain(
      'nothing accepts connections at abc-ats.iot.eu-west-1.amazonaws.com:8883 (ECONNREFUSED)',
    );
    expect(diagnose(facts({ error: errWithCode('nf', 'ENOTFOUND') }), ctx).message).toContain("cannot resolve iot.endpoint abc-ats.iot.eu-west-1.amazonaws.com (ENOTFOUND): check the name and the camera's DNS settings");
    expect(diagnose(facts({ error: new Error('connack timeout'), tlsEstablished: true }), ctx).message).toContain('no CONNACK within iot.connectTimeoutMs (20000 ms)');
  });

  it('DISCONNECT 0x87 after connecting blames a publish/subscribe the policy does not allow', () => {
    const d = diagnose(facts({ tlsEstablished: true, connackReceived: true, connectedForMs: 4000, disconnectReasonCode: 0x87 }), ctx);
    expect(d.cause).toBe('server-disconnect');
    expect(d.message).toContain('after 4 s (DISCONNECT 0x87 not authorized)');
    expect(d.message).toContain('iot:Publish/iot:Subscribe/iot:Receive');
  });
});
