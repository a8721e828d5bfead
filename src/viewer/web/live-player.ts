import { ApiCallError, call, SignedOut, type LiveGrant } from './api.js';
import { LivePeer } from './live-peer.js';

/**
 * Live view of one camera as a small state machine: ask the API (`POST /api/cameras/{thing}/live`),
 * connect with what it grants (live-peer.ts), and when no answer comes within ANSWER_MS or the
 * connection drops, ask the API again: the camera may have gone offline or filled its viewer slots
 * meanwhile, and a fresh presigned URL replaces one that may have expired. A refusal ends the attempt
 * with the reason in words; repeated failures without ever connecting end it too. A signalling socket
 * that never opens, twice in a row, ends it at once with what to do (a third try would fail the same
 * way): on devcloud the deployment's config says how to trust its certificate (liveSignallingHelp).
 */

export type LivePhase = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'offline' | 'too-many' | 'unreachable' | 'failed';

export const PHASE_WORDS: Record<LivePhase, string> = {
  idle: '',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Camera offline',
  'too-many': 'Too many viewers',
  unreachable: 'Cannot reach live signalling',
  failed: 'Live view failed',
};

/** What a deployment tells a browser whose signalling socket never opens (devcloud: its own CA; absent in AWS). */
export interface SignallingHelp {
  text: string;
  /** A ready command line (devcloud: chromium trusting the signalling certificate's key). */
  command: string;
}

let signallingHelp: SignallingHelp | undefined;

/** From the deployment's config.json at boot (main.ts). */
export function setSignallingHelp(help: SignallingHelp | undefined): void {
  signallingHelp = help;
}

export function currentSignallingHelp(): SignallingHelp | undefined {
  return signallingHelp;
}

/** No SDP answer within this long: the camera did not come up; ask again. */
export const ANSWER_MS = 10_000;
/** Attempts in a row that never connected before giving up. */
const MAX_ATTEMPTS = 4;
/** Signalling sockets in a row that never opened: the first may be a blip, the second is not. */
const MAX_UNREACHABLE = 2;

export interface PlayerEvents {
  phase(phase: LivePhase, detail: string): void;
  stream(stream: MediaStream | null): void;
}

export class LivePlayer {
  private peer: LivePeer | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private attempts = 0;
  private unreachable = 0;
  /** Bumped by every start and end: an API answer that arrives after Stop (or after Stop + Live) is dropped. */
  private generation = 0;

  constructor(
    private readonly thing: string,
    private readonly events: PlayerEvents,
  ) {}

  get active(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.generation++;
    this.attempts = 0;
    this.unreachable = 0;
    this.events.phase('connecting', '');
    void this.connect();
  }

  /** The user pressed Stop, the tab was hidden or the page left: release everything. */
  stop(detail = ''): void {
    this.end('idle', detail);
  }

  private async connect(): Promise<void> {
    this.attempts++;
    const generation = this.generation;
    let grant: LiveGrant;
    try {
      grant = await call<LiveGrant>('POST', `/api/cameras/${encodeURIComponent(this.thing)}/live`);
    } catch (err) {
      if (generation !== this.generation) return;
      if (err instanceof SignedOut) return location.reload();
      if (err instanceof ApiCallError && err.reason === 'offline') return this.end('offline', err.message);
      if (err instanceof ApiCallError && err.reason === 'too-many-viewers') return this.end('too-many', err.message);
      return this.retry(`the viewer API did not answer: ${(err as Error).message}`);
    }
    if (generation !== this.generation) return;
    this.peer = new LivePeer(grant, {
      stream: (s) => this.events.stream(s),
      connected: () => {
        clearTimeout(this.timer);
        this.attempts = 0;
        this.events.phase('live', '');
      },
      lost: (why, signallingUnreachable) => this.retry(why, signallingUnreachable),
    });
    this.timer = setTimeout(() => this.retry(`no answer from the camera within ${ANSWER_MS / 1000} s`), ANSWER_MS);
  }

  private retry(why: string, signallingUnreachable = false): void {
    if (!this.running) return;
    this.release();
    this.unreachable = signallingUnreachable ? this.unreachable + 1 : 0;
    if (this.unreachable >= MAX_UNREACHABLE) {
      return this.end('unreachable', signallingHelp?.text ?? `${why}: check this device's network connection, then press Live again`);
    }
    if (this.attempts >= MAX_ATTEMPTS) return this.end('failed', `${why}; tried ${this.attempts} times`);
    this.events.phase('reconnecting', why);
    // The first retry at once (a lost answer, an expired URL); later ones spaced out.
    this.timer = setTimeout(() => void this.connect(), this.attempts <= 1 ? 0 : 2000);
  }

  private release(): void {
    clearTimeout(this.timer);
    this.peer?.close();
    this.peer = undefined;
  }

  private end(phase: LivePhase, detail: string): void {
    this.running = false;
    this.generation++;
    this.release();
    this.events.stream(null);
    this.events.phase(phase, detail);
  }
}
