/**
 * The signalling client against a hostile server (a real `ws` server on loopback): what KVS may send
 * is defined by the WebRTC developer guide's "Asynchronous message reception" (messageType enum,
 * messagePayload base64 up to 10K, statusResponse); anything else is dropped and reported, oversized
 * frames and floods close the connection, and nothing throws into the caller.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_PAYLOAD_CHARS, SignalingClient, parseSignalingMessage, signalingEnvelope, type SignalingMessage } from './kvs-signaling.js';

const servers: WebSocketServer[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** A server that runs `behave` on the first connection; resolves with its ws:// URL. */
async function hostile(behave: (socket: WebSocket) => void): Promise<string> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(server);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  server.on('connection', behave);
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64');
}

describe('parseSignalingMessage', () => {
  it('decodes the envelope of the guide', () => {
    expect(parseSignalingMessage(JSON.stringify({ senderClientId: 'viewer-1', messageType: 'SDP_OFFER', messagePayload: b64({ type: 'offer', sdp: 'v=0' }) }))).toEqual({
      messageType: 'SDP_OFFER',
      senderClientId: 'viewer-1',
      payload: { type: 'offer', sdp: 'v=0' },
    });
    expect(parseSignalingMessage(JSON.stringify({ messageType: 'STATUS_RESPONSE', statusResponse: { correlationId: 'c1', errorType: 'InvalidArgumentException', statusCode: '400', description: 'x' } }))).toEqual({
      messageType: 'STATUS_RESPONSE',
      statusResponse: { correlationId: 'c1', errorType: 'InvalidArgumentException', statusCode: '400', description: 'x' },
    });
    expect(parseSignalingMessage('{"messageType":"GO_AWAY"}')).toEqual({ messageType: 'GO_AWAY' });
  });

  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['an unknown type', '{"messageType":"SHUTDOWN"}'],
    ['a payload that is not base64 JSON', '{"messageType":"SDP_OFFER","messagePayload":"%%%"}'],
    ['an SDP message without a payload', '{"messageType":"SDP_ANSWER"}'],
    ['a sender id with a slash', `{"messageType":"ICE_CANDIDATE","senderClientId":"a/b","messagePayload":"${b64({})}"}`],
    ['a payload over 10K', `{"messageType":"ICE_CANDIDATE","messagePayload":"${'A'.repeat(MAX_PAYLOAD_CHARS + 4)}"}`],
    ['a status without correlationId', '{"messageType":"STATUS_RESPONSE","statusResponse":{}}'],
  ])('refuses %s with a reason', (_what, text) => {
    expect(typeof parseSignalingMessage(text)).toBe('string');
  });
});

describe('signalingEnvelope', () => {
  it('base64-encodes the JSON payload and names the recipient', () => {
    const envelope = JSON.parse(signalingEnvelope('SDP_ANSWER', { type: 'answer', sdp: 'v=0' }, { recipientClientId: 'viewer-1', correlationId: 'a1' })) as Record<string, string>;
    expect(envelope).toEqual({ action: 'SDP_ANSWER', messagePayload: b64({ type: 'answer', sdp: 'v=0' }), recipientClientId: 'viewer-1', correlationId: 'a1' });
  });

  it('refuses a payload KVS would refuse, and an id outside the alphabet', () => {
    expect(() => signalingEnvelope('SDP_OFFER', { sdp: 'x'.repeat(8000) })).toThrow(/at most 10240/);
    expect(() => signalingEnvelope('ICE_CANDIDATE', {}, { recipientClientId: 'a b' })).toThrow(/recipientClientId/);
  });
});

describe('SignalingClient against a hostile server', () => {
  it('drops and reports malformed messages and keeps delivering good ones', async () => {
    const url = await hostile((s) => {
      s.send('not json');
      s.send(Buffer.from([1, 2, 3]));
      s.send('{"messageType":"SDP_OFFER","messagePayload":"bm90IGpzb24="}');
      s.send(JSON.stringify({ messageType: 'ICE_CANDIDATE', senderClientId: 'v1', messagePayload: b64({ candidate: 'c' }) }));
    });
    const invalid: string[] = [];
    const got = await new Promise<SignalingMessage>((resolve) => {
      void SignalingClient.connect(url, { onMessage: resolve, onInvalid: (why) => invalid.push(why) });
    });
    expect(got).toEqual({ messageType: 'ICE_CANDIDATE', senderClientId: 'v1', payload: { candidate: 'c' } });
    expect(invalid).toEqual(['not JSON', 'a binary frame', 'messagePayload is not base64 of JSON']);
  });

  it('closes the connection on a frame larger than its bound, and never delivers it', async () => {
    const url = await hostile((s) => s.send(JSON.stringify({ messageType: 'ICE_CANDIDATE', messagePayload: 'A'.repeat(64 * 1024) })));
    const invalid: string[] = [];
    let delivered = 0;
    await new Promise<number>((resolve) => {
      void SignalingClient.connect(url, { maxFrameBytes: 16 * 1024, onMessage: () => delivered++, onInvalid: (why) => invalid.push(why), onClose: (code) => resolve(code) });
    });
    expect(delivered).toBe(0);
    expect(invalid.join()).toContain('Max payload size exceeded');
  });

  it('closes the connection on a flood past its message rate (1008) and reports it', async () => {
    const url = await hostile((s) => {
      for (let i = 0; i < 200; i++) s.send('{"messageType":"GO_AWAY"}');
    });
    let delivered = 0;
    const invalid: string[] = [];
    const closed = await new Promise<number>((resolve) => {
      void SignalingClient.connect(url, { maxMessagesPerSecond: 10, onMessage: () => delivered++, onInvalid: (why) => invalid.push(why), onClose: (code) => resolve(code) });
    });
    expect(closed).toBe(1008);
    expect(delivered).toBeLessThanOrEqual(21);
    expect(invalid.at(-1)).toContain('more than 10 messages a second');
  });

  it("rejects with the server's status and error type when the upgrade is refused", async () => {
    const { createServer } = await import('node:http');
    const server = createServer((_req, res) => res.end());
    server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\nx-amzn-errortype: AccessDeniedException\r\ncontent-length: 20\r\nconnection: close\r\n\r\n{"message":"denied"}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const err = (await SignalingClient.connect(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, { onMessage: () => undefined }).catch((e: unknown) => e)) as Error & { status: number };
    server.close();
    expect(err.status).toBe(403);
    expect(err.message).toContain('AccessDeniedException');
    expect(err.message).toContain('denied');
  });
});
