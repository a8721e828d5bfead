/**
 * A live session, loaded on the first live request (feature.ts imports this module lazily): MASTER
 * on the camera's signalling channel while someone watches, one ViewerPeer per viewer up to
 * maxViewers, all fed by one shared RTSP session; closed `idleMs` after the last viewer (or after a
 * request nobody joined). GO_AWAY or a dropped signalling connection reconnects while viewers remain.
 * Reports every change through `onReport`; logs viewers by client id and count, never URLs,
 * signatures or credentials.
 */
import type { Logger } from '../../../lib/log.js';
import type { RoleCredentialsSource } from '../../../protocol/iot-credentials.js';
import type { SignalingMessage } from '../../../protocol/kvs-signaling.js';
import type { LiveState } from '../../../protocol/live-request.js';
import type { RtspCredentialSource } from '../../../protocol/rtsp/connection.js';
import { connectAsMaster, type MasterLink, type MasterLinkSettings } from './master-link.js';
import { createRtspSource, type RtspSource } from './rtsp-source.js';
import { createViewerPeer, type IceCandidateInit, type ViewerPeer } from './viewer-peer.js';

export interface LiveSessionOptions {
  link: MasterLinkSettings;
  credentials: RoleCredentialsSource;
  rtsp: {
    url: string;
    credentials: RtspCredentialSource;
    basicOnLoopback: boolean;
    /** The operator's next step when the camera refuses the account (rtsp-account.ts); undefined: not a refusal. */
    refusalFix?(err: unknown): string | undefined;
  };
  maxViewers: number;
  idleMs: number;
  /** Host candidates werift adds (devcloud: 127.0.0.1). */
  additionalHostAddresses: string[];
  log: Logger;
  onReport(report: { state: LiveState; viewers: number; error?: string }): void;
  /** Tests shorten it: how long an answered viewer may take to connect. */
  connectTimeoutMs?: number;
}

export interface LiveSession {
  /** A live request: start (if not started or after a failure), or keep alive (reset the idle timer). */
  request(requestId: string): void;
  readonly state: LiveState;
  readonly viewers: number;
  /** Closes everything: viewers, RTSP (TEARDOWN), signalling. */
  stop(): Promise<void>;
}

interface Viewer {
  clientId: string;
  peer?: ViewerPeer;
  connected: boolean;
  unsubscribe?: () => void;
  /** Candidates that came before the peer existed. */
  early: IceCandidateInit[];
  /** The agent's own candidates, held until the answer is sent (a browser cannot add one before it). */
  outgoing?: IceCandidateInit[];
  connectTimer?: NodeJS.Timeout;
}

const MAX_EARLY_CANDIDATES = 32;
/** An answered viewer holds one of maxViewers slots; one that has not connected by then gives it back. */
const VIEWER_CONNECT_TIMEOUT_MS = 15_000;
const RECONNECT_DELAYS_MS = [500, 2000, 5000, 10_000];

export function createLiveSession(opts: LiveSessionOptions): LiveSession {
  const log = opts.log;
  const viewers = new Map<string, Viewer>();
  let state: LiveState = 'off';
  let error: string | undefined;
  let link: MasterLink | undefined;
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  /** Set by stop(), cleared by start(): callbacks of the old session do nothing. */
  let closing = false;
  let idleTimer: NodeJS.Timeout | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let reconnects = 0;
  let source: RtspSource | undefined;
  let cameraProfileLevelId: string | undefined;

  const connectedCount = (): number => [...viewers.values()].filter((v) => v.connected).length;
  function report(next: LiveState, why?: string): void {
    state = next;
    error = why;
    opts.onReport({ state, viewers: connectedCount(), ...(error !== undefined ? { error } : {}) });
  }

  function armIdle(): void {
    clearTimeout(idleTimer);
    idleTimer = undefined;
    if (viewers.size > 0 || state === 'off' || state === 'failed') return;
    idleTimer = setTimeout(() => {
      log.info({ event: 'live.idle', idleSeconds: opts.idleMs / 1000 }, `no viewer for ${opts.idleMs / 1000} s: stopping live view`);
      void stop();
    }, opts.idleMs);
    idleTimer.unref();
  }

  function newSource(): RtspSource {
    return createRtspSource({
      ...opts.rtsp,
      onProblem: (why) => log.warn({ event: 'live.camera-stream', why }, why),
      onOpen: (track) => {
        cameraProfileLevelId = track.sps?.profileLevelId ?? track.profileLevelId ?? '42e01f';
        log.info({ event: 'live.camera-stream-open', profileLevelId: cameraProfileLevelId, width: track.sps?.width, height: track.sps?.height }, 'camera RTSP stream open');
      },
    });
  }

  function start(): Promise<void> {
    closing = false;
    report('starting');
    source = newSource();
    return connectSignalling().then(
      () => {
        log.info({ event: 'live.started', maxViewers: opts.maxViewers }, 'live view on: master of the signalling channel');
        report('on');
        armIdle();
      },
      async (err: unknown) => {
        const why = (err as Error).message;
        log.error({ event: 'live.start-failed', why }, `live view could not start: ${why}`);
        await release();
        report('failed', why);
      },
    );
  }

  async function connectSignalling(): Promise<void> {
    // The close handler may run before connectAsMaster returns (it then finds no link yet).
    const made: { link?: MasterLink } = {};
    const fresh = await connectAsMaster(opts.link, opts.credentials, {
      onMessage: (m) => onMessage(m),
      onInvalid: (why) => log.debug({ event: 'live.signalling-invalid', why }, 'signalling message dropped'),
      onClose: (code) => onSignallingClosed(made.link, code),
    });
    made.link = fresh;
    if (closing) {
      fresh.client.close();
      return;
    }
    link = fresh;
    reconnects = 0;
  }

  function onSignallingClosed(closedLink: MasterLink | undefined, code: number): void {
    if (closing || closedLink === undefined || closedLink !== link) return;
    link = undefined;
    if (viewers.size === 0) {
      log.info({ event: 'live.signalling-closed', code }, 'signalling connection closed with no viewer: stopping live view');
      void stop();
      return;
    }
    scheduleReconnect(`signalling connection closed (${code})`);
  }

  function scheduleReconnect(why: string): void {
    if (closing || reconnectTimer) return;
    const delay = RECONNECT_DELAYS_MS[Math.min(reconnects, RECONNECT_DELAYS_MS.length - 1)] ?? 10_000;
    reconnects++;
    log.info({ event: 'live.signalling-reconnect', why, delayMs: delay, viewers: connectedCount() }, `${why}: reconnecting to signalling (viewers stay connected)`);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (closing) return;
      connectSignalling().catch((err: unknown) => {
        log.warn({ event: 'live.signalling-reconnect-failed', why: (err as Error).message }, (err as Error).message);
        if (viewers.size > 0) scheduleReconnect('reconnect failed');
        else void stop();
      });
    }, delay);
    reconnectTimer.unref();
  }

  function onMessage(m: SignalingMessage): void {
    switch (m.messageType) {
      case 'SDP_OFFER':
        if (m.senderClientId) void onOffer(m.senderClientId, m.payload);
        return;
      case 'ICE_CANDIDATE':
        if (m.senderClientId) onCandidate(m.senderClientId, m.payload);
        return;
      case 'GO_AWAY': {
        const old = link;
        link = undefined;
        old?.client.close();
        if (viewers.size === 0) {
          log.info({ event: 'live.go-away' }, 'signalling sent GO_AWAY with no viewer: stopping live view');
          void stop();
        } else scheduleReconnect('signalling sent GO_AWAY');
        return;
      }
      case 'RECONNECT_ICE_SERVER':
        link
          ?.refreshIceServers()
          .then((servers) => {
            if (link) link.iceServers = servers;
          })
          .catch((err: unknown) => log.warn({ event: 'live.ice-servers-failed', why: (err as Error).message }, (err as Error).message));
        return;
      case 'STATUS_RESPONSE':
        log.debug({ event: 'live.signalling-status', errorType: m.statusResponse?.errorType, statusCode: m.statusResponse?.statusCode }, 'signalling status response');
        return;
      default:
        return;
    }
  }

  function send(action: 'SDP_ANSWER' | 'ICE_CANDIDATE', payload: unknown, recipientClientId: string): void {
    try {
      link?.client.send(action, payload, { recipientClientId });
    } catch (err) {
      log.debug({ event: 'live.signalling-send-failed', action, why: (err as Error).message }, 'could not send on the signalling connection');
    }
  }

  async function onOffer(clientId: string, payload: unknown): Promise<void> {
    const sdp = (payload as { type?: unknown; sdp?: unknown } | null)?.sdp;
    if ((payload as { type?: unknown } | null)?.type !== 'offer' || typeof sdp !== 'string' || sdp.length > 10 * 1024) {
      log.warn({ event: 'live.offer-invalid', clientId }, 'an SDP_OFFER without an offer was ignored');
      return;
    }
    const previous = viewers.get(clientId);
    if (previous) await release(previous, 'offered again');
    if (viewers.size >= opts.maxViewers) {
      log.warn({ event: 'live.viewer-refused', clientId, viewers: viewers.size, maxViewers: opts.maxViewers }, `viewer ${clientId} refused: live.maxViewers is ${opts.maxViewers} and ${viewers.size} are watching`);
      return;
    }
    const viewer: Viewer = { clientId, connected: false, early: [], outgoing: [] };
    viewers.set(clientId, viewer);
    clearTimeout(idleTimer);
    idleTimer = undefined;
    try {
      // No source: live view is stopping (release() keeps none once nobody may watch).
      const stream = source;
      if (!stream) throw new Error('live view is stopping');
      const track = await stream.open();
      const profile = cameraProfileLevelId ?? track.profileLevelId ?? '42e01f';
      if (viewers.get(clientId) !== viewer) return;
      const peer = await createViewerPeer({
        offerSdp: sdp,
        iceServers: link?.iceServers ?? [],
        cameraProfileLevelId: profile,
        additionalHostAddresses: opts.additionalHostAddresses,
        onCandidate: (c) => {
          if (viewer.outgoing) viewer.outgoing.push(c);
          else send('ICE_CANDIDATE', c, clientId);
        },
        onState: (s, why) => onPeerState(viewer, s, why),
        onKeyframeWanted: () => source?.requestKeyframe(),
      });
      if (viewers.get(clientId) !== viewer) {
        await peer.close();
        return;
      }
      viewer.peer = peer;
      viewer.unsubscribe = stream.subscribe((p) => peer.forward(p));
      send('SDP_ANSWER', { type: 'answer', sdp: peer.answerSdp }, clientId);
      for (const c of viewer.outgoing?.splice(0) ?? []) send('ICE_CANDIDATE', c, clientId);
      viewer.outgoing = undefined;
      for (const c of viewer.early.splice(0)) await peer.addCandidate(c).catch(() => undefined);
      viewer.connectTimer = setTimeout(() => {
        if (!viewer.connected) void release(viewer, `did not connect within ${(opts.connectTimeoutMs ?? VIEWER_CONNECT_TIMEOUT_MS) / 1000} s`);
      }, opts.connectTimeoutMs ?? VIEWER_CONNECT_TIMEOUT_MS);
      viewer.connectTimer.unref();
      if (!peer.cameraProfile) log.info({ event: 'live.profile-fallback', clientId, cameraProfileLevelId: profile }, `viewer ${clientId} did not offer the camera's H.264 profile ${profile}: answered with its Constrained Baseline entry`);
    } catch (err) {
      const why = (err as Error).message;
      const fix = opts.rtsp.refusalFix?.(err);
      if (fix) {
        // The viewer sees a failed connection; the operator needs the reason where they look: the shadow and the log.
        log.error({ event: 'live.rtsp-refused', clientId, why, fix }, `live view cannot open the camera's stream: ${why}; ${fix}`);
        report(state, `${why}; ${fix}`);
      } else log.warn({ event: 'live.viewer-failed', clientId, why }, `cannot serve viewer ${clientId}: ${why}`);
      await release(viewer, why);
    }
  }

  function onCandidate(clientId: string, payload: unknown): void {
    const c = payload as IceCandidateInit | null;
    if (typeof c?.candidate !== 'string') return;
    const viewer = viewers.get(clientId);
    if (!viewer) return;
    if (viewer.peer) void viewer.peer.addCandidate(c).catch((err: unknown) => log.debug({ event: 'live.candidate-refused', clientId, why: (err as Error).message }, 'ICE candidate refused'));
    else if (viewer.early.length < MAX_EARLY_CANDIDATES) viewer.early.push(c);
  }

  function onPeerState(viewer: Viewer, s: 'connected' | 'gone', why: string): void {
    if (viewers.get(viewer.clientId) !== viewer) return;
    if (s === 'connected' && !viewer.connected) {
      viewer.connected = true;
      clearTimeout(viewer.connectTimer);
      const count = connectedCount();
      log.info({ event: 'live.viewer-joined', clientId: viewer.clientId, viewers: count }, `viewer ${viewer.clientId} joined (${count} watching)`);
      report(state);
    } else if (s === 'gone') void release(viewer, why);
  }

  /** Releases one viewer, or (no argument) everything. */
  async function release(viewer?: Viewer, why?: string): Promise<void> {
    if (viewer) {
      if (viewers.get(viewer.clientId) !== viewer) return;
      viewers.delete(viewer.clientId);
      clearTimeout(viewer.connectTimer);
      viewer.unsubscribe?.();
      // Nobody watches: the camera's stream is not needed until the next viewer. It is closed before the
      // peer (werift's close can take a while on a busy camera), and a fresh, unopened source is in
      // place at once, so a viewer arriving meanwhile does not open the one being closed.
      let lastStream: Promise<void> | undefined;
      if (viewers.size === 0) {
        lastStream = source?.close();
        source = state !== 'off' && state !== 'failed' && !closing ? newSource() : undefined;
      }
      await viewer.peer?.close();
      const count = connectedCount();
      log.info({ event: 'live.viewer-left', clientId: viewer.clientId, viewers: count, why }, `viewer ${viewer.clientId} left (${why ?? 'closed'}; ${count} watching)`);
      if (viewer.connected) report(state, error);
      await lastStream;
      if (viewers.size === 0 && source) armIdle();
      return;
    }
    clearTimeout(idleTimer);
    clearTimeout(reconnectTimer);
    reconnectTimer = undefined;
    const all = [...viewers.values()];
    viewers.clear();
    for (const v of all) {
      clearTimeout(v.connectTimer);
      v.unsubscribe?.();
    }
    await Promise.all(all.map((v) => v.peer?.close() ?? Promise.resolve()));
    const l = link;
    link = undefined;
    l?.client.close();
    await source?.close();
    source = undefined;
  }

  function stop(): Promise<void> {
    if (state === 'off' && !starting) return Promise.resolve();
    closing = true;
    stopping ??= (async () => {
      await starting;
      await release();
      if (state !== 'off') {
        log.info({ event: 'live.stopped' }, 'live view off: camera stream and signalling closed');
        report('off');
      }
    })().finally(() => (stopping = undefined));
    return stopping;
  }

  return {
    request(requestId) {
      if (stopping) {
        // A request while stopping starts again once the stop is done.
        void stopping.then(() => this.request(requestId));
        return;
      }
      if (state === 'off' || state === 'failed') {
        log.info({ event: 'live.request', requestId }, 'live request: starting live view');
        starting = start().finally(() => (starting = undefined));
        return;
      }
      log.info({ event: 'live.request', requestId, viewers: connectedCount() }, 'live request while live: idle timer reset');
      armIdle();
    },
    get state() {
      return state;
    },
    get viewers() {
      return connectedCount();
    },
    stop,
  };
}
