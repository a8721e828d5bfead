/**
 * The signalling data plane of one devcloud KVS: HTTPS with GetIceServerConfig
 * (`POST /v1/get-ice-server-config`, @aws-sdk/client-kinesis-video-signaling) and the secure WebSocket
 * endpoints ConnectAsMaster (`/master`) and ConnectAsViewer (`/viewer`), each reached through a SigV4
 * presigned URL. The upgrade is refused with AWS's HTTP error before any WebSocket exists: a forged,
 * expired or foreign URL never gets a socket. Routing is router.ts's.
 */
import type { IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Channel, ChannelStore } from './channels.js';
import { channelNameInArn } from './channels.js';
import { KvsError, kvsErrors, upgradeRefusal } from './errors.js';
import { policyDenial } from './iam.js';
import { stringMember, type JsonApiOptions, type Operation } from './json-api.js';
import { ChannelRouter, GO_AWAY, type Peer, type RateLimit } from './router.js';
import { verifyPresignedQuery } from './sigv4.js';

/** KVS WebRTC quota: viewers connected to one signalling channel at once. */
export const MAX_VIEWERS_PER_CHANNEL = 10;
/** A frame larger than any valid message (10K payload + envelope) closes the connection (1009). */
const MAX_FRAME_BYTES = 16 * 1024;
/** AWS closes a signalling connection idle this long (developer guide, Disconnect: idle connection timeout). */
export const DEFAULT_IDLE_MS = 10 * 60 * 1000;
const CLIENT_ID = /^(?!AWS_)[a-zA-Z0-9_.-]{1,256}$/i;

export interface SignallingOptions extends JsonApiOptions {
  server: HttpsServer;
  store: ChannelStore;
  rate: RateLimit;
  idleMs: number;
}

export interface Signalling {
  iceOperations: Map<string, Operation>;
  /** GO_AWAY to every client of the channel, and no more routing on it. */
  closeChannel(channel: Channel): void;
  close(): void;
}

export function startSignalling(opts: SignallingOptions): Signalling {
  const { log } = opts;
  const routers = new Map<string, ChannelRouter>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const routerOf = (channel: Channel): ChannelRouter => {
    let router = routers.get(channel.arn);
    if (!router) {
      router = new ChannelRouter({ ttlSeconds: channel.messageTtlSeconds, rate: opts.rate, now: opts.now, log });
      routers.set(channel.arn, router);
    }
    return router;
  };

  /** Who may connect, as ConnectAsMaster / ConnectAsViewer answer it; a KvsError when not. */
  const admit = (req: IncomingMessage): { channel: Channel; clientId: string | undefined } => {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const rawPath = q === -1 ? target : target.slice(0, q);
    if (rawPath !== '/master' && rawPath !== '/viewer') throw new KvsError(404, 'ResourceNotFoundException', `No WebSocket endpoint at ${rawPath}; use the URL GetSignalingChannelEndpoint gives.`);
    const { held, params } = verifyPresignedQuery(
      { method: 'GET', rawPath, rawQuery: q === -1 ? '' : target.slice(q + 1), headers: req.headers },
      { region: opts.region, now: opts.now(), registry: opts.registry },
    );
    const param = (name: string): string | undefined => params.find((p) => p.name === name)?.value;
    const arn = param('X-Amz-ChannelARN');
    const channelName = arn === undefined ? undefined : channelNameInArn(arn);
    if (arn === undefined || channelName === undefined) throw kvsErrors.invalidArgument('X-Amz-ChannelARN must be the ARN of a signaling channel.');
    const asViewer = rawPath === '/viewer';
    const clientId = param('X-Amz-ClientId');
    if (asViewer && (clientId === undefined || !CLIENT_ID.test(clientId))) {
      throw kvsErrors.invalidArgument('X-Amz-ClientId is required to connect as a viewer: 1-256 characters from [a-zA-Z0-9_.-], not starting with AWS_.');
    }
    const action = asViewer ? 'ConnectAsViewer' : 'ConnectAsMaster';
    const denial = policyDenial(held.principal, action, channelName);
    if (denial !== undefined) throw kvsErrors.connectDenied(`User is not authorized to perform kinesisvideo:${action} on this channel: ${denial}.`);
    const channel = opts.store.find({ arn });
    if (!channel) throw kvsErrors.notFound(`The signaling channel ${arn} does not exist.`);
    if (asViewer) {
      const router = routers.get(channel.arn);
      if (router && router.viewerCount >= MAX_VIEWERS_PER_CHANNEL && !router.hasViewer(clientId!)) {
        throw kvsErrors.clientLimit(`The channel already has ${MAX_VIEWERS_PER_CHANNEL} viewers connected.`);
      }
    }
    return { channel, clientId: asViewer ? clientId : undefined };
  };

  const connect = (ws: WebSocket, channel: Channel, clientId: string | undefined): void => {
    const router = routerOf(channel);
    const peer: Peer = {
      clientId,
      send: (text) => {
        if (ws.readyState === ws.OPEN) ws.send(text);
      },
      goAway: () => {
        if (ws.readyState === ws.OPEN) ws.send(GO_AWAY);
        ws.close(1000, 'GO_AWAY');
      },
    };
    let idle: NodeJS.Timeout | undefined;
    const touch = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => ws.close(1001, 'idle'), opts.idleMs);
      idle.unref();
    };
    touch();
    ws.on('message', (data, isBinary) => {
      touch();
      if (isBinary) return;
      router.receive(peer, (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString('utf8'));
    });
    ws.on('ping', touch);
    ws.on('error', (err) => log.debug({ err: err.message, clientId }, 'signalling connection error'));
    ws.once('close', () => {
      clearTimeout(idle);
      router.detach(peer);
    });
    if (clientId === undefined) router.attachMaster(peer);
    else router.attachViewer(peer);
    log.info({ channel: channel.name, role: clientId === undefined ? 'MASTER' : 'VIEWER', clientId }, 'signalling client connected');
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    let admitted;
    try {
      admitted = admit(req);
    } catch (err) {
      const refusal = err instanceof KvsError ? err : new KvsError(500, 'InternalFailureException', 'devcloud failed on this request; see its log.');
      log.info({ status: refusal.status, type: refusal.type, err: refusal.message }, 'signalling connection refused');
      socket.end(upgradeRefusal(refusal));
      return;
    }
    const { channel, clientId } = admitted;
    wss.handleUpgrade(req, socket, head, (ws) => connect(ws, channel, clientId));
  };
  opts.server.on('upgrade', onUpgrade);

  const iceOperations = new Map<string, Operation>([
    [
      '/v1/get-ice-server-config',
      (input, caller) => {
        const arn = stringMember(input, 'ChannelARN', { required: true });
        const service = stringMember(input, 'Service');
        if (service !== undefined && service !== 'TURN') throw kvsErrors.invalidArgument(`Service must be TURN, not ${service}.`);
        const clientId = stringMember(input, 'ClientId');
        if (clientId !== undefined && !CLIENT_ID.test(clientId)) throw kvsErrors.invalidArgument('ClientId must be 1-256 characters from [a-zA-Z0-9_.-].');
        const name = channelNameInArn(arn);
        if (name === undefined) throw kvsErrors.invalidArgument(`ChannelARN ${JSON.stringify(arn)} is not a signaling channel ARN.`);
        // The camera role may call it on its own channel; the viewer API on any cloudcam-* channel.
        const denial = policyDenial(caller.principal, 'GetIceServerConfig', name);
        if (denial !== undefined) throw kvsErrors.notAuthorized(`User is not authorized to perform kinesisvideo:GetIceServerConfig on this channel: ${denial}.`);
        if (!opts.store.find({ arn })) throw kvsErrors.notFound(`The signaling channel ${arn} does not exist.`);
        // No TURN server on loopback: peers on one machine reach each other's host candidates directly
        // (docs/protocol-live.md). AWS would list TURN servers here, with short-lived usernames.
        return { IceServerList: [] };
      },
    ],
  ]);

  return {
    iceOperations,
    closeChannel: (channel) => {
      routers.get(channel.arn)?.close();
      routers.delete(channel.arn);
    },
    close: () => {
      opts.server.off('upgrade', onUpgrade);
      for (const router of routers.values()) router.close();
      routers.clear();
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}
