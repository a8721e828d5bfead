/**
 * The agent's logging against a real rsyslog: RFC 5424 over UDP and TCP with distinct severities,
 * thing / request id / event name on every line, real secrets never in any line of any format, and a
 * dead collector that costs nothing but counted lines.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentLogging, type AgentLogging } from '../../src/agent/logging.js';
import { certificateIdOf } from '../../src/agent/provisioning/identity-store.js';
import { createCa } from '../../src/devcloud/pki.js';
import type { LogFormat } from '../../src/agent/config/index.js';
import { RSYSLOGD, freePort, startRsyslog, type ReceivedLine, type Rsyslog } from '../helpers/rsyslog.js';

const THING = 'cam-log-1';

function capture(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString('utf8')));
  return { out, text: () => text };
}

describe.skipIf(!RSYSLOGD)('syslog to a real rsyslog', () => {
  let rsyslog: Rsyslog;
  beforeAll(async () => {
    rsyslog = await startRsyslog();
  });
  afterAll(async () => {
    await rsyslog?.stop();
  });

  const forRun = (lines: ReceivedLine[], run: string): ReceivedLine[] => lines.filter((l) => l.structuredData.includes(`id="${run}`));

  it.each(['udp', 'tcp'] as const)('%s: severities error 3, warn 4, info 6, debug 7, with thing, request id and event name', async (protocol) => {
    const run = `${protocol}-${randomBytes(4).toString('hex')}`;
    const logging = createAgentLogging({
      level: 'debug',
      format: 'json',
      thing: THING,
      out: new PassThrough().resume(),
      syslog: { protocol, host: '127.0.0.1', port: protocol === 'udp' ? rsyslog.udpPort : rsyslog.tcpPort, facility: 'daemon', appName: 'cloudcam' },
    });
    logging.log.error({ event: 'snapshot.failed', id: `${run}-e` }, 'snapshot failed');
    logging.log.warn({ event: 'upload.retry', id: `${run}-w` }, 'upload failed; retrying');
    logging.log.info({ event: 'snapshot.uploaded', id: `${run}-i` }, 'snapshot uploaded');
    logging.log.debug({ event: 'snapshot.duplicate', id: `${run}-d` }, 'ignored a duplicate');
    const lines = forRun(await rsyslog.waitFor((l) => forRun(l, run).length >= 4), run);
    await logging.close();
    expect(lines.map((l) => [l.severity, l.msgId])).toEqual([
      [3, 'snapshot.failed'],
      [4, 'upload.retry'],
      [6, 'snapshot.uploaded'],
      [7, 'snapshot.duplicate'],
    ]);
    for (const l of lines) {
      expect(l.facility).toBe('daemon');
      expect(l.appName).toBe('cloudcam');
      expect(l.structuredData).toMatch(new RegExp(`^\\[cloudcam@32473 thing="${THING}" id="${run}-[ewid]"\\]$`));
      expect(JSON.parse(l.msg)).toMatchObject({ thing: THING, event: l.msgId });
    }
    expect(logging.syslogStats).toMatchObject({ sent: 4, dropped: 0 });
  });

  it('a line without an event name still gets one (from its component and cause)', async () => {
    const run = `noevent-${randomBytes(4).toString('hex')}`;
    const logging = createAgentLogging({
      level: 'info',
      format: 'json',
      thing: THING,
      out: new PassThrough().resume(),
      syslog: { protocol: 'tcp', host: '127.0.0.1', port: rsyslog.tcpPort, facility: 'local3', appName: 'cloudcam' },
    });
    logging.log.child({ component: 'mqtt' }).error({ cause: 'unknown-ca', id: run }, 'TLS failed');
    const [line] = forRun(await rsyslog.waitFor((l) => forRun(l, run).length >= 1), run);
    await logging.close();
    expect(line).toMatchObject({ severity: 3, facility: 'local3', msgId: 'mqtt.unknown-ca' });
  });

  it('a certificateId field (64 hex, docs/logging.md) reaches every format and the collector; a signature beside it does not', async () => {
    const ca = await createCa('log-test-ca');
    const certificateId = certificateIdOf(ca.certPem);
    const signature = randomBytes(32).toString('hex');
    const run = `certid-${randomBytes(4).toString('hex')}`;
    const outputs: Record<string, string> = {};
    for (const format of ['json', 'syslog-stdout', 'pretty'] as LogFormat[]) {
      const { out, text } = capture();
      const logging = createAgentLogging({ level: 'info', format, thing: THING, out, syslog: { protocol: 'tcp', host: '127.0.0.1', port: rsyslog.tcpPort, facility: 'daemon', appName: 'cloudcam' } });
      logging.log.info({ event: 'provisioning.done', id: run, certificateId }, 'enrolled');
      logging.log.warn({ event: 'test.sig', id: run, certificateId, err: `signature ${signature} refused`, other: signature }, `X-Amz-Signature was ${signature}`);
      await logging.close();
      outputs[format] = text();
    }
    const received = await rsyslog.waitFor((l) => forRun(l, run).length >= 6);
    outputs['rsyslog'] = forRun(received, run).map((l) => l.raw).join('\n');
    for (const [where, out] of Object.entries(outputs)) {
      expect(out.split(certificateId).length - 1, `certificate id in ${where}`).toBe(where === 'rsyslog' ? 6 : 2); // two lines per format; the collector got all three formats' lines
      expect(out.includes(signature), `signature in ${where}`).toBe(false);
    }
  });

  it('real secrets never appear in any line, in any format or at the collector', async () => {
    const password = randomBytes(12).toString('base64url');
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const sessionToken = randomBytes(300).toString('base64');
    const s3 = new S3Client({ region: 'us-east-1', endpoint: 'https://s3.us-east-1.amazonaws.com', credentials: { accessKeyId: 'ASIAEXAMPLEEXAMPLE12', secretAccessKey: randomBytes(30).toString('base64'), sessionToken } });
    const post = await createPresignedPost(s3, { Bucket: 'b', Key: `${THING}/x.jpg`, Conditions: [['content-length-range', 1, 1000]], Expires: 60 });
    s3.destroy();
    const signature = post.fields['X-Amz-Signature']!;
    const policy = post.fields['Policy']!;
    expect(post.fields['X-Amz-Security-Token']).toBe(sessionToken);
    const pemBodyLines = pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
    const secrets = { password, signature, policy, sessionToken, ...Object.fromEntries(pemBodyLines.map((l, i) => [`pem line ${i}`, l])) };

    const run = `secrets-${randomBytes(4).toString('hex')}`;
    const emit = (logging: AgentLogging): void => {
      const { log } = logging;
      log.info({ event: 'test.fields', id: run, password, privateKey: pem, fields: post.fields, policy, sessionToken }, 'keys that are redacted by path');
      log.warn({ event: 'test.text', id: run, url: `${post.url}?X-Amz-Signature=${signature}&X-Amz-Security-Token=${encodeURIComponent(sessionToken)}` }, `camera login ${password} failed`);
      log.error({ event: 'test.err', id: run, err: `upload failed: policy ${policy} signature ${signature} token ${sessionToken}` }, `key was ${pem}`);
      log.error({ event: 'test.nested', id: run, detail: JSON.stringify(post.fields), deep: { a: { b: { c: [pem, password] } } } }, 'nested');
      log.info({ event: 'test.end', id: run }, 'end');
    };

    const outputs: Record<string, string> = {};
    for (const [format, protocol] of [['json', 'udp'], ['syslog-stdout', 'tcp'], ['pretty', 'tcp']] as [LogFormat, 'udp' | 'tcp'][]) {
      const { out, text } = capture();
      const logging = createAgentLogging({
        level: 'debug',
        format,
        thing: THING,
        out,
        secrets: [password],
        syslog: { protocol, host: '127.0.0.1', port: protocol === 'udp' ? rsyslog.udpPort : rsyslog.tcpPort, facility: 'daemon', appName: 'cloudcam' },
      });
      emit(logging);
      await logging.close();
      outputs[format] = text();
    }
    const received = await rsyslog.waitFor((l) => forRun(l, run).filter((x) => x.msgId === 'test.end').length >= 3);
    outputs['rsyslog'] = forRun(received, run).map((l) => l.raw).join('\n');
    expect(forRun(received, run)).toHaveLength(15);

    for (const [where, text] of Object.entries(outputs)) {
      expect(text.length, where).toBeGreaterThan(200);
      expect(text, where).toContain('[redacted]');
      for (const [name, value] of Object.entries(secrets)) {
        expect(text.includes(value), `${name} in ${where}`).toBe(false);
        expect(text.includes(JSON.stringify(value).slice(1, -1)), `${name} (escaped) in ${where}`).toBe(false);
      }
      expect(text, where).not.toContain('PRIVATE' + ' KEY-----\\n');
    }
  });
});

describe.skipIf(!RSYSLOGD)('a dead collector', () => {
  it('never blocks or throws; lines are queued, then dropped and counted, and the drop is reported when it returns', async () => {
    const port = await freePort('tcp');
    const { out, text } = capture();
    const logging = createAgentLogging({
      level: 'info',
      format: 'json',
      thing: THING,
      out,
      syslog: { protocol: 'tcp', host: '127.0.0.1', port, facility: 'daemon', appName: 'cloudcam' },
    });
    for (let i = 0; i < 600; i++) logging.log.info({ event: 'test.dead', id: `dead-${i}` }, 'collector is down');
    // stdout has every line even though the collector has none.
    expect(text().split('\n').filter((l) => l.includes('test.dead'))).toHaveLength(600);
    expect(logging.syslogStats!.dropped).toBe(100); // 500 wait in the bounded queue

    const rsyslog = await startRsyslog({ tcpPort: port });
    try {
      const lines = await rsyslog.waitFor((l) => l.some((x) => x.msgId === 'log.syslog-recovered'), 20_000);
      expect(lines.filter((l) => l.msgId === 'test.dead')).toHaveLength(500);
      const recovered = lines.find((l) => l.msgId === 'log.syslog-recovered')!;
      expect(recovered.severity).toBe(4);
      expect(JSON.parse(recovered.msg)).toMatchObject({ dropped: 100 });
    } finally {
      await logging.close();
      await rsyslog.stop();
    }
  });

  it('UDP to nobody: nothing blocks and stdout keeps every line', async () => {
    const port = await freePort('udp');
    const { out, text } = capture();
    const logging = createAgentLogging({ level: 'info', format: 'syslog-stdout', thing: THING, out, syslog: { protocol: 'udp', host: '127.0.0.1', port, facility: 'daemon', appName: 'cloudcam' } });
    for (let i = 0; i < 200; i++) logging.log.error({ event: 'test.udp-dead', id: `u-${i}` }, 'nobody listens');
    await logging.close();
    expect(text().split('\n').filter((l) => l.startsWith('<3>') && l.includes('test.udp-dead'))).toHaveLength(200);
  });
});
