import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freeTcpPort as freePort } from '../lib/free-port.js';
import { createCa, issueCertificate } from '../devcloud/pki.js';
import {
  LEVEL,
  PACKET,
  captureLog,
  connack,
  packetId,
  publishTopic,
  startScriptedServer,
  testConfig,
  writePair,
  type RawPacket,
  type ScriptedServer,
} from '../../test/helpers/agent-connection-kit.js';
import { createConnection, tlsOptions, type AgentConnection } from './connection.js';

const THING = 'cam-conn-1';
const WILL = { topic: `cloudcam/${THING}/presence`, payload: '{"state":"offline"}', qos: 1 as const, retain: true };

let dir: string;
let paths: { caPath: string; certPath: string; keyPath: string };
let serverPem: { certPem: string; keyPem: string };
let caPem: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cloudcam-conn-'));
  const ca = await createCa('cloudcam test CA');
  caPem = ca.certPem;
  serverPem = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ipAddresses: ['127.0.0.1'] });
  const client = await writePair(dir, 'client', await issueCertificate(ca, { commonName: THING, usage: 'client' }));
  const caPath = path.join(dir, 'ca.crt');
  await fs.writeFile(caPath, ca.certPem);
  paths = { caPath, ...client };
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

let server: ScriptedServer | undefined;
let conn: AgentConnection | undefined;
afterEach(async () => {
  await conn?.stop({ timeoutMs: 500 });
  await server?.close();
  conn = undefined;
  server = undefined;
});

/** A broker that accepts CONNECT, acknowledges QoS 1 publishes and grants or refuses subscriptions. */
function simpleBroker(received: RawPacket[], opts: { subackCode?: (topic: string) => number; puback?: boolean } = {}) {
  return (socket: tls.TLSSocket, p: RawPacket): void => {
    received.push(p);
    if (p.type === PACKET.CONNECT) socket.write(connack(4, 0));
    if (p.type === PACKET.PUBLISH && (p.flags & 0x06) === 0x02 && opts.puback !== false) {
      const id = packetId(p);
      socket.write(Buffer.from([0x40, 2, id >> 8, id & 0xff]));
    }
    if (p.type === PACKET.SUBSCRIBE) {
      const id = packetId(p);
      const codes: number[] = [];
      let i = 2;
      while (i < p.body.length) {
        const len = p.body.readUInt16BE(i);
        const topic = p.body.subarray(i + 2, i + 2 + len).toString('utf8');
        i += 2 + len + 1;
        codes.push(opts.subackCode?.(topic) ?? 1);
      }
      socket.write(Buffer.from([0x90, 2 + codes.length, id >> 8, id & 0xff, ...codes]));
    }
  };
}

describe('AgentConnection (mqtt.js over mutual TLS, against a scripted broker)', () => {
  it('sends CONNECT with client id = thing name, a persistent session, keepalive and the last will', async () => {
    const received: RawPacket[] = [];
    server = await startScriptedServer({ cert: serverPem.certPem, key: serverPem.keyPem, clientCa: caPem, onPacket: simpleBroker(received) });
    const { log } = captureLog();
    conn = createConnection(testConfig(paths, { thingName: THING, port: server.port }), { will: WILL, log });
    conn.start();
    const [info] = (await once(conn, 'connected')) as [unknown];
    expect(info).toEqual({ sessionPresent: false, attempt: 1 });
    expect(conn.connected).toBe(true);
    const connect = received.find((p) => p.type === PACKET.CONNECT);
    if (!connect) throw new Error('no CONNECT');
    const b = connect.body;
    // Variable header (3.1.1): "MQTT", level 4, flags, keepalive; then the client id.
    expect(b.subarray(2, 6).toString()).toBe('MQTT');
    expect(b[6]).toBe(4);
    const flags = b[7] ?? 0;
    expect(flags & 0x02).toBe(0); // clean session off
    expect(flags & 0x04).toBe(0x04); // will present
    expect((flags >> 3) & 0x03).toBe(1); // will QoS 1
    expect(flags & 0x20).toBe(0x20); // will retained
    expect(b.readUInt16BE(8)).toBe(60);
    const idLen = b.readUInt16BE(10);
    expect(b.subarray(12, 12 + idLen).toString()).toBe(THING);
  });

  it('keeps trying while nothing listens, then connects as soon as the server is up', async () => {
    const port = await freePort();
    const captured = captureLog();
    conn = createConnection(testConfig(paths, { thingName: THING, port, reconnect: { minMs: 20, maxMs: 60 } }), { will: WILL, log: captured.log });
    const connected = once(conn, 'connected');
    conn.start();
    const refused = await captured.waitFor((l) => l.cause === 'connection-refused' && l.level === LEVEL.error);
    expect(refused.msg).toContain(`nothing accepts connections at 127.0.0.1:${port}`);
    await captured.waitFor((l) => l.cause === 'connection-refused' && (l.attempt ?? 0) >= 3);
    const received: RawPacket[] = [];
    server = await startScriptedServer({ cert: serverPem.certPem, key: serverPem.keyPem, port, onPacket: simpleBroker(received) });
    const [info] = (await connected) as [{ attempt: number }];
    expect(info.attempt).toBeGreaterThanOrEqual(4);
    // The refusal was logged at error level once, not on every retry.
    expect(captured.lines.filter((l) => l.cause === 'connection-refused' && l.level === LEVEL.error)).toHaveLength(1);
  });

  it('emits disconnected with the reason and reconnects by itself', async () => {
    const received: RawPacket[] = [];
    server = await startScriptedServer({ cert: serverPem.certPem, key: serverPem.keyPem, onPacket: simpleBroker(received) });
    const { log } = captureLog();
    conn = createConnection(testConfig(paths, { thingName: THING, port: server.port }), { will: WILL, log });
    conn.start();
    await once(conn, 'connected');
    const disconnected = once(conn, 'disconnected');
    const reconnected = new Promise<unknown>((resolve) => conn?.once('connected', resolve));
    server.sockets[0]?.destroy();
    const [info] = (await disconnected) as [{ reason: string }];
    expect(info.reason).toMatch(/closed the connection/);
    expect(conn.connected).toBe(false);
    await reconnected;
    expect(conn.connected).toBe(true);
    expect(server.sockets.length).toBe(2);
  });

  it('subscribe resolves when granted and rejects naming the topic when the broker refuses it', async () => {
    const received: RawPacket[] = [];
    const denied = `$aws/things/other-cam/shadow/name/cloudcam/update/delta`;
    server = await startScriptedServer({
      cert: serverPem.certPem,
      key: serverPem.keyPem,
      onPacket: simpleBroker(received, { subackCode: (topic) => (topic === denied ? 0x80 : 1) }),
    });
    const captured = captureLog();
    conn = createConnection(testConfig(paths, { thingName: THING, port: server.port }), { will: WILL, log: captured.log });
    conn.start();
    await once(conn, 'connected');
    await expect(conn.subscribe([`cloudcam/${THING}/a`, `cloudcam/${THING}/b`])).resolves.toBeUndefined();
    await expect(conn.subscribe([`cloudcam/${THING}/c`, denied])).rejects.toThrow(
      `not authorized — the IoT policy does not allow subscribing to ${denied}`,
    );
    expect(captured.lines.some((l) => l.level === LEVEL.error && l.msg.includes(denied))).toBe(true);
  });

  it('forwards incoming messages', async () => {
    server = await startScriptedServer({
      cert: serverPem.certPem,
      key: serverPem.keyPem,
      onPacket: (socket, p) => {
        if (p.type !== PACKET.CONNECT) return;
        socket.write(connack(4, 0));
        const topic = Buffer.from('cloudcam/x/in');
        const payload = Buffer.from('hello');
        socket.write(Buffer.concat([Buffer.from([0x30, 2 + topic.length + payload.length, 0, topic.length]), topic, payload]));
      },
    });
    const { log } = captureLog();
    conn = createConnection(testConfig(paths, { thingName: THING, port: server.port }), { will: WILL, log });
    const message = once(conn, 'message');
    conn.start();
    const [topic, payload] = (await message) as [string, Buffer];
    expect(topic).toBe('cloudcam/x/in');
    expect(payload.toString()).toBe('hello');
  });

  it('stop() publishes the final message (QoS 1, retained like the will) and then sends DISCONNECT', async () => {
    const received: RawPacket[] = [];
    server = await startScriptedServer({ cert: serverPem.certPem, key: serverPem.keyPem, onPacket: simpleBroker(received) });
    const { log } = captureLog();
    conn = createConnection(testConfig(paths, { thingName: THING, port: server.port }), { will: WILL, log });
    conn.start();
    await once(conn, 'connected');
    const closed = once(server.sockets[0] as tls.TLSSocket, 'close');
    await conn.stop({ finalMessage: { topic: WILL.topic, payload: '{"state":"offline","at":"now"}' } });
    await closed;
    const types = received.map((p) => p.type);
    const publish = received.find((p) => p.type === PACKET.PUBLISH);
    expect(publish && publishTopic(publish)).toBe(WILL.topic);
    expect(publish && publish.flags & 0x01).toBe(1); // retain
    expect(publish && (publish.flags >> 1) & 0x03).toBe(1); // QoS 1
    expect(types.indexOf(PACKET.DISCONNECT)).toBeGreaterThan(types.indexOf(PACKET.PUBLISH));
    await expect(conn.publish('x', 'y')).rejects.toThrow('the connection is stopped');
  });

  it('stop() is bounded when the broker never acknowledges the final message', async () => {
    const received: RawPacket[] = [];
    server = await startScriptedServer({ cert: serverPem.certPem, key: serverPem.keyPem, onPacket: simpleBroker(received, { puback: false }) });
    const { log } = captureLog();
    conn = createConnection(testConfig(paths, { thingName: THING, port: server.port }), { will: WILL, log });
    conn.start();
    await once(conn, 'connected');
    const t0 = Date.now();
    await conn.stop({ finalMessage: { topic: WILL.topic, payload: 'offline' }, timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(received.some((p) => p.type === PACKET.PUBLISH)).toBe(true);
  });

  it('stop() while still trying to connect ends the retries', async () => {
    const port = await freePort();
    const captured = captureLog();
    conn = createConnection(testConfig(paths, { thingName: THING, port, reconnect: { minMs: 10, maxMs: 20 } }), { will: WILL, log: captured.log });
    conn.start();
    await captured.waitFor((l) => (l.attempt ?? 0) >= 2);
    await conn.stop({ timeoutMs: 500 });
    const count = captured.lines.length;
    // Long enough for several retries at 10-20 ms if any were still scheduled.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(captured.lines.slice(count).filter((l) => l.msg === 'connecting')).toEqual([]);
  });

  it('TLS options: 1.2+, always verified, SNI for host names, ALPN x-amzn-mqtt-ca on port 443', () => {
    const creds = { ca: Buffer.from('ca'), cert: Buffer.from('cert'), key: Buffer.from('key') };
    const aws443 = tlsOptions(testConfig(paths, { endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com', port: 443 }), creds);
    expect(aws443).toMatchObject({
      host: 'abc-ats.iot.eu-west-1.amazonaws.com',
      servername: 'abc-ats.iot.eu-west-1.amazonaws.com',
      port: 443,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      ALPNProtocols: ['x-amzn-mqtt-ca'],
    });
    const ip8883 = tlsOptions(testConfig(paths, { endpoint: '127.0.0.1', port: 8883 }), creds);
    expect(ip8883.rejectUnauthorized).toBe(true);
    expect('ALPNProtocols' in ip8883).toBe(false);
    expect('servername' in ip8883).toBe(false);
  });
});
