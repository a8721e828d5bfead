/**
 * A minimal Kinesis Video Streams signalling client over `ws`: the message envelope of the WebRTC
 * developer guide ({action, messagePayload: base64(JSON), recipientClientId, correlationId} out;
 * {senderClientId, messageType, messagePayload, statusResponse} in) and bounds on what a hostile or
 * broken server may send: frame size (the `ws` maxPayload: a larger frame closes the connection),
 * message rate (past it the connection is closed), and the shape of every message (a malformed one is
 * dropped and reported, never thrown into the caller).
 */
import WebSocket from 'ws';

export const SEND_ACTIONS = ['SDP_OFFER', 'SDP_ANSWER', 'ICE_CANDIDATE'] as const;
export type SendAction = (typeof SEND_ACTIONS)[number];
export const MESSAGE_TYPES = ['SDP_OFFER', 'SDP_ANSWER', 'ICE_CANDIDATE', 'GO_AWAY', 'RECONNECT_ICE_SERVER', 'STATUS_RESPONSE'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];
/** messagePayload: base64, at most 10K characters (developer guide). */
export const MAX_PAYLOAD_CHARS = 10 * 1024;

export interface StatusResponse {
  correlationId: string;
  errorType?: string;
  statusCode?: string;
  description?: string;
}

export interface SignalingMessage {
  messageType: MessageType;
  /** The viewer's client id on messages from a viewer; absent on the master's. */
  senderClientId?: string;
  /** The decoded JSON payload (e.g. {type: 'offer', sdp}) of SDP and ICE messages. */
  payload?: unknown;
  statusResponse?: StatusResponse;
}

export interface SignalingClientOptions {
  /** PEM CA for the wss:// endpoint (devcloud's); default: the system's. */
  ca?: string | Buffer;
  /** Largest frame accepted (default 16 KiB: a 10K payload and its envelope). */
  maxFrameBytes?: number;
  /** Messages a second accepted from the server, with bursts of twice that (default 50). */
  maxMessagesPerSecond?: number;
  /** The connection must be open by then (default 10 s). */
  openTimeoutMs?: number;
  onMessage(message: SignalingMessage): void;
  /** A message that was dropped, and why (for a debug log). */
  onInvalid?(why: string): void;
  onClose?(code: number, reason: string): void;
}

const ID = /^[a-zA-Z0-9_.-]{1,256}$/;

/** The message as the guide defines it, or why not. */
export function parseSignalingMessage(text: string): SignalingMessage | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not a JSON object';
  const { messageType, senderClientId, messagePayload, statusResponse } = raw as Record<string, unknown>;
  if (typeof messageType !== 'string' || !(MESSAGE_TYPES as readonly string[]).includes(messageType)) return `unknown messageType ${JSON.stringify(messageType)}`;
  const message: SignalingMessage = { messageType: messageType as MessageType };
  if (senderClientId !== undefined && senderClientId !== '') {
    if (typeof senderClientId !== 'string' || !ID.test(senderClientId)) return 'senderClientId is not 1-256 characters from [a-zA-Z0-9_.-]';
    message.senderClientId = senderClientId;
  }
  if (messagePayload !== undefined && messagePayload !== '') {
    if (typeof messagePayload !== 'string' || messagePayload.length > MAX_PAYLOAD_CHARS) return `messagePayload is not a string of at most ${MAX_PAYLOAD_CHARS} characters`;
    try {
      message.payload = JSON.parse(Buffer.from(messagePayload, 'base64').toString('utf8'));
    } catch {
      return 'messagePayload is not base64 of JSON';
    }
  }
  if (statusResponse !== undefined) {
    const s = statusResponse as Record<string, unknown> | null;
    if (typeof s !== 'object' || s === null || typeof s['correlationId'] !== 'string') return 'statusResponse has no correlationId';
    const text = (v: unknown): string | undefined => (typeof v === 'string' ? v.slice(0, 1024) : undefined);
    message.statusResponse = {
      correlationId: s['correlationId'].slice(0, 256),
      ...(text(s['errorType']) !== undefined ? { errorType: text(s['errorType'])! } : {}),
      ...(text(s['statusCode']) !== undefined ? { statusCode: text(s['statusCode'])! } : {}),
      ...(text(s['description']) !== undefined ? { description: text(s['description'])! } : {}),
    };
  }
  if ((messageType === 'SDP_OFFER' || messageType === 'SDP_ANSWER' || messageType === 'ICE_CANDIDATE') && message.payload === undefined) return `${messageType} without a payload`;
  return message;
}

/** The outgoing envelope; throws when the payload is too large for KVS. */
export function signalingEnvelope(action: SendAction, payload: unknown, opts: { recipientClientId?: string; correlationId?: string } = {}): string {
  const messagePayload = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64');
  if (messagePayload.length > MAX_PAYLOAD_CHARS) throw new Error(`${action} payload is ${messagePayload.length} base64 characters; KVS takes at most ${MAX_PAYLOAD_CHARS}`);
  for (const [name, value] of Object.entries(opts)) {
    if (value !== undefined && !ID.test(value)) throw new Error(`${name} must be 1-256 characters from [a-zA-Z0-9_.-]`);
  }
  return JSON.stringify({ action, messagePayload, ...opts });
}

export class SignalingClient {
  private tokens: number;
  private at = Date.now();

  private constructor(
    private readonly ws: WebSocket,
    private readonly opts: SignalingClientOptions,
  ) {
    const rate = opts.maxMessagesPerSecond ?? 50;
    this.tokens = rate * 2;
    ws.on('message', (data, isBinary) => this.receive(data, isBinary, rate));
    ws.once('close', (code, reason) => opts.onClose?.(code, reason.toString('utf8')));
  }

  /** Opens the presigned URL; rejects with the server's refusal (e.g. 403) when the upgrade is refused. */
  static connect(url: string, opts: SignalingClientOptions): Promise<SignalingClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        maxPayload: opts.maxFrameBytes ?? 16 * 1024,
        handshakeTimeout: opts.openTimeoutMs ?? 10_000,
        ...(opts.ca ? { ca: opts.ca } : {}),
      });
      const fail = (err: Error): void => {
        ws.terminate();
        reject(err);
      };
      ws.once('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 4096) chunks.push(c);
        });
        res.once('end', () => {
          const type = res.headers['x-amzn-errortype'];
          const body = Buffer.concat(chunks).toString('utf8').slice(0, 512);
          fail(Object.assign(new Error(`the signalling endpoint refused the connection: ${res.statusCode ?? 0} ${typeof type === 'string' ? `${type} ` : ''}${body}`), { status: res.statusCode }));
        });
        res.once('error', fail);
      });
      ws.once('error', fail);
      ws.once('open', () => {
        ws.off('error', fail);
        // Later errors (e.g. a frame over maxPayload) end in 'close', which onClose reports.
        ws.on('error', (err) => opts.onInvalid?.(`connection error: ${err.message}`));
        resolve(new SignalingClient(ws, opts));
      });
    });
  }

  send(action: SendAction, payload: unknown, opts: { recipientClientId?: string; correlationId?: string } = {}): void {
    if (this.ws.readyState !== WebSocket.OPEN) throw new Error('the signalling connection is not open');
    this.ws.send(signalingEnvelope(action, payload, opts));
  }

  close(): void {
    this.ws.close(1000);
  }

  private receive(data: WebSocket.RawData, isBinary: boolean, rate: number): void {
    const now = Date.now();
    this.tokens = Math.min(rate * 2, this.tokens + ((now - this.at) / 1000) * rate);
    this.at = now;
    if (this.tokens < 1) {
      this.opts.onInvalid?.(`the server sent more than ${rate} messages a second; closing`);
      this.ws.close(1008, 'message rate');
      this.ws.removeAllListeners('message');
      return;
    }
    this.tokens -= 1;
    if (isBinary) return this.opts.onInvalid?.('a binary frame');
    const text = (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString('utf8');
    const parsed = parseSignalingMessage(text);
    if (typeof parsed === 'string') return this.opts.onInvalid?.(parsed);
    this.opts.onMessage(parsed);
  }
}
