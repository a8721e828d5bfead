import path from 'node:path';
import type { Feature, FeatureContext } from '../../feature.js';
import { CloudClock } from '../../../protocol/cloud-clock.js';
import { ShadowClient } from '../../../protocol/shadow-client.js';
import { eventsTopic, snapshotRequestTopic } from '../../../protocol/topics.js';
import { eventKey } from '../../../protocol/upload-grant.js';
import type { CameraEvent } from '../../../protocol/vapix/events.js';
import type { UploadTargetPolicy } from '../../upload-target.js';
import type { EventCounters } from '../local-api.js';
import { createCaptureStep } from '../pipeline/capture.js';
import { createGrantKeeper } from './grant.js';
import { openEventQueue, type EventQueue, type QueuedEvent } from './queue.js';
import { createEventStream } from './stream.js';
import { createEventGate, matchingTriggers, type Trigger } from './triggers.js';
import { createEventUploader } from './uploader.js';
import { createFrameBuffer, preEventWindowMs, type PreEventSettings } from './frame-buffer.js';

/**
 * Event snapshots (docs/protocol.md, "Event snapshots"), glue only: camera event stream → triggers
 * (cooldown, fleet cap) → capture at once → on-disk queue → upload with the standing grant → event
 * record on `cloudcam/{thing}/events` (QoS 1) → entry removed. The queue is drained in order
 * whenever a grant is usable and the broker connected; nothing asks the cloud per event.
 */
export interface EventsSettings {
  triggers: Trigger[];
  capPerMinute: number;
  queue: { maxCount: number; maxBytes: number };
  /** The pre-event buffer; `frames: 0` (the default) turns it off. */
  preBuffer: PreEventSettings;
  resolution: string;
  compression: number;
  maxBytes: number;
  uploadTimeoutMs: number;
  target: UploadTargetPolicy;
}

export interface EventsFeature extends Feature {
  readonly stats: EventCounters;
  /** Resolves once the queue is empty and nothing is in flight (tests). */
  idle(): Promise<void>;
}

const RETRY_MS = 5000;

/** The events settings, with the picture and upload settings it shares with requested snapshots. */
function eventsSettings(config: FeatureContext['config']): EventsSettings {
  const { resolution, compression, maxBytes, uploadTimeoutMs, allowedUploadHosts, insecureHttpUploadHosts } = config.snapshot;
  return { ...config.events, resolution, compression, maxBytes, uploadTimeoutMs, target: { allowedHosts: allowedUploadHosts, insecureHttpHosts: insecureHttpUploadHosts } };
}

export function createEventsFeature(ctx: FeatureContext): EventsFeature {
  const { connection, thing, config } = ctx;
  const settings = eventsSettings(config);
  const log = ctx.log.child({ feature: 'events' });
  const capture = createCaptureStep(ctx.camera, settings);
  const gate = createEventGate(settings.capPerMinute);
  const uploader = createEventUploader({ target: settings.target, timeoutMs: settings.uploadTimeoutMs });
  // A grant expires by S3's clock: judge it by the cloud's, estimated from the shadow's timestamps
  // (the device clock may be hours off before NTP), as requested snapshots are.
  const clock = new CloudClock(() => ctx.now().getTime());
  const shadow = new ShadowClient(connection, thing, config.shadowName, undefined, clock);
  const grants = createGrantKeeper({ thing, log, now: () => clock.now(), requestGrant: (msg) => connection.publish(snapshotRequestTopic(thing), msg, { qos: 1 }) });
  const counts = { captured: 0, uploaded: 0, failed: 0 };
  let queue: EventQueue | undefined;
  let draining: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let checkTimer: NodeJS.Timeout | undefined;
  let idleWaiters: (() => void)[] = [];
  let stopping = false;
  const abort = new AbortController();
  const preFrames =
    settings.preBuffer.frames > 0
      ? createFrameBuffer({
          settings: settings.preBuffer,
          capture: (signal, maxBytes) => capture({ resolution: settings.preBuffer.resolution, maxBytes }, signal),
          log,
        })
      : undefined;
  /** Captures run one after another so the queue keeps event order. */
  let captures: Promise<void> = Promise.resolve();

  const stream = createEventStream({
    baseUrl: ctx.cameraAccess.baseUrl,
    credentials: ctx.cameraAccess.credentials,
    topicFilters: [...new Set(settings.triggers.map((t) => t.topic))],
    log,
    onEvent,
  });

  function onEvent(event: CameraEvent): void {
    for (const trigger of matchingTriggers(settings.triggers, event)) {
      const admission = gate.admit(trigger, Date.now());
      if (admission !== 'admitted') {
        log.info({ event: `events.dropped-${admission}`, trigger: trigger.name, dropped: gate.dropped }, `event for trigger ${trigger.name} dropped (${admission})`);
        continue;
      }
      captures = captures.then(() => captureAndQueue(trigger, event));
    }
  }

  async function captureAndQueue(trigger: Trigger, event: CameraEvent): Promise<void> {
    if (stopping || !queue) return;
    // Taken before the capture below: the frame nearest the event, not one the capture's wait pushed in.
    const pre = preFrames?.nearest(event.at, preEventWindowMs(settings.preBuffer));
    const entry = { trigger: trigger.name, topic: event.topic, eventTime: event.at.toISOString() };
    try {
      const frameTime = new Date().toISOString();
      const jpeg = await capture({ resolution: trigger.resolution }, abort.signal);
      counts.captured += 1;
      // Keys come from the event's time: a repeated upload after a crash writes the same object.
      const queued = [
        ...(pre ? [enqueue(queue, { ...entry, key: eventKey(thing, trigger.name, event.at, 'pre'), frameTime: pre.at.toISOString() }, pre.jpeg)] : []),
        enqueue(queue, { ...entry, key: eventKey(thing, trigger.name, event.at), frameTime }, jpeg),
      ];
      // The entries are in the queue already: the upload starts while they are written to disk.
      drain();
      await Promise.all(queued);
    } catch (err) {
      counts.failed += 1;
      log.warn({ event: 'events.capture-failed', trigger: trigger.name, err: (err as Error).message }, `could not capture the event picture: ${(err as Error).message}`);
    }
  }

  async function enqueue(q: EventQueue, init: Omit<QueuedEvent, 'seq' | 'bytes'>, jpeg: Buffer): Promise<void> {
    const evicted = await q.push(init, jpeg);
    log.debug({ event: 'events.queued', key: init.key, queued: q.size }, 'event picture captured and queued');
    for (const e of evicted) log.warn({ event: 'events.queue-dropped', key: e.key, dropped: q.dropped }, `event queue full: dropped ${e.key} (oldest first)`);
  }

  function retryLater(): void {
    if (retryTimer || stopping) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      drain();
    }, RETRY_MS);
  }

  function drain(): void {
    if (draining || stopping) return;
    draining = drainQueue()
      .catch((err: unknown) => log.error({ event: 'events.drain-failed', err: (err as Error).message }, 'event queue drain failed'))
      .finally(() => {
        draining = undefined;
        if (!queue?.peek()) {
          const w = idleWaiters;
          idleWaiters = [];
          w.forEach((f) => f());
        }
      });
  }

  async function drainQueue(): Promise<void> {
    for (let entry = queue?.peek(); entry && queue && !stopping; entry = queue.peek()) {
      const grant = grants.usable();
      if (!grant || !connection.connected) return; // drained again when a grant arrives or on connect
      const jpeg = await queue.read(entry);
      const outcome = await uploader.upload(grant, entry, jpeg, abort.signal);
      if (!outcome.ok) {
        log.warn({ event: 'events.upload-failed', key: entry.key, err: outcome.error }, `event upload failed: ${outcome.error}`);
        if ('permanent' in outcome) {
          counts.failed += 1;
          await queue.remove(entry);
          continue;
        }
        if ('grantRefused' in outcome) grants.refused();
        else retryLater();
        return;
      }
      if (!(await publishRecord(entry, outcome.ms))) return retryLater();
      await queue.remove(entry);
      counts.uploaded += 1;
      log.info({ event: 'events.uploaded', key: entry.key, trigger: entry.trigger, bytes: entry.bytes, ms: outcome.ms, grantExpiresAt: grant.expiresAt }, 'event snapshot uploaded');
    }
  }

  async function publishRecord(entry: QueuedEvent, ms: number): Promise<boolean> {
    const record = { key: entry.key, trigger: entry.trigger, topic: entry.topic, eventTime: entry.eventTime, frameTime: entry.frameTime ?? entry.eventTime, bytes: entry.bytes, uploadMs: ms, at: new Date().toISOString() };
    try {
      await connection.publish(eventsTopic(thing), JSON.stringify(record), { qos: 1 });
      return true;
    } catch (err) {
      log.warn({ event: 'events.record-failed', key: entry.key, err: (err as Error).message }, 'could not publish the event record; the upload is repeated (same key) with it later');
      return false;
    }
  }

  const onDelta = (state: Record<string, unknown>): void => grants.offer(state['uploadGrant']);
  grants.onUsable(() => drain());

  return {
    name: 'events',
    get stats() {
      return { ...counts, droppedCooldown: gate.dropped.cooldown, droppedCap: gate.dropped.cap, droppedQueue: queue?.dropped ?? 0, queued: queue?.size ?? 0 };
    },
    async start() {
      queue = await openEventQueue(path.join(config.stateDir, 'event-queue'), settings.queue);
      if (queue.size > 0) log.info({ event: 'events.queue-restored', queued: queue.size, bytes: queue.bytes }, `${queue.size} event snapshots waiting from before the restart`);
      shadow.on('delta', onDelta);
      stream.start();
      preFrames?.start();
      checkTimer = setInterval(() => grants.check(), 60_000);
      checkTimer.unref();
    },
    async onConnected() {
      try {
        await shadow.subscribe();
        const doc = await shadow.get();
        grants.offer(doc?.state.desired?.['uploadGrant']);
        grants.check();
        drain();
      } catch (err) {
        log.warn({ event: 'events.connect-failed', err: (err as Error).message }, 'could not read the upload grant from the shadow');
      }
    },
    idle() {
      if (!draining && !queue?.peek()) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async stop() {
      stopping = true;
      abort.abort();
      if (retryTimer) clearTimeout(retryTimer);
      if (checkTimer) clearInterval(checkTimer);
      shadow.off('delta', onDelta);
      shadow.close();
      await stream.stop();
      await preFrames?.stop();
      await captures.catch(() => undefined);
      await draining;
      uploader.close();
    },
  };
}
