#!/usr/bin/env node
// `make bench`, event snapshots (issue 13): from a camera event to its picture stored in S3, p50/p95,
// against the floor measured in the same run (a VAPIX capture then the presigned POST with the
// standing grant's fields, in a process of its own, no MQTT, no queue); and the shipped agent's
// memory with event snapshots on, without and with the pre-event buffer.
//   event → object: from `events.fire` on the camera simulator to the S3 stand-in's stored object,
//   both in this process (one clock): WebSocket notify, trigger, capture, on-disk queue, upload.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pct, printTable, root, rssOf, shippedAgent, startProcess, stopAgent } from './bench-lib.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { values } = parseArgs({
  options: { n: { type: 'string', default: '30' }, broker: { type: 'string' }, resolution: { type: 'string', default: '1920x1080' }, frames: { type: 'string', default: '10' }, fps: { type: 'string', default: '2' } },
});
const N = Number(values.n);
const PRE = { frames: Number(values.frames), fps: Number(values.fps) };
const MOTION = 'tns1:VideoSource/MotionAlarm';
const TRIGGERS = [{ name: 'motion', topic: MOTION, when: { State: '1' }, cooldownSeconds: 0 }];

const { startDevcloud } = await import(path.join(root, 'dist/devcloud/devcloud.js'));
const { createLogger } = await import(path.join(root, 'dist/lib/log.js'));
const { eventKey, grantUploadFields } = await import(path.join(root, 'dist/protocol/upload-grant.js'));

const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-bench-events-'));
const dc = await startDevcloud({
  stateDir: dir,
  cameras: 1,
  ...(values.broker ? { broker: values.broker } : {}),
  log: createLogger({ name: 'devcloud', level: 'warn' }),
  thumbnails: false,
  agentOverrides: { log: { level: 'warn', format: 'json' }, snapshot: { resolution: values.resolution } },
});
const thing = 'camera-1';
const info = dc.info;
const cam = dc.cameras.get(thing);
const stored = (key) =>
  new Promise((resolve) => {
    const on = (o) => {
      if (o.key !== key) return;
      dc.s3.events.off('object', on);
      resolve(o);
    };
    dc.s3.events.on('object', on);
  });
const until = async (ok) => {
  // A bench, not a test: the simulator has no event for "a stream session opened", so look every 20 ms.
  while (!ok()) await new Promise((r) => setTimeout(r, 20));
};
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the shipped agent with event snapshots; resolves once it is online (presence: it has read its
 * shadow, and with it the standing grant, which the cloud handler issued if there was none) and its
 * event stream is up.
 */
async function startEventsAgent(name, preBuffer) {
  const online = new Promise((resolve) => {
    const on = (r) => r.action === 'requested' && r.thing === thing && (dc.rules.off('handled', on), resolve());
    dc.rules.on('handled', on);
  });
  const shipped = await shippedAgent(path.join(dir, name), info.devices[thing].agentConfigPath, (c) => ({
    ...c,
    stateDir: path.join(dir, name, 'localdata', 'state'),
    events: { triggers: TRIGGERS, capPerMinute: 1_000_000, ...(preBuffer ? { preBuffer } : {}) },
  }));
  const child = startProcess(shipped);
  await online;
  await until(() => cam.events.sessions > 0 && dc.store.get({ thing, shadow: info.shadowName }).state.desired?.uploadGrant !== undefined);
  return child;
}

/** N events one after another; ms from the event to its picture stored. */
async function fireEvents(base) {
  const ms = [];
  for (let i = 0; i < N; i++) {
    const at = new Date(base + i * 1000);
    const done = stored(eventKey(thing, 'motion', at));
    const t0 = performance.now();
    cam.events.fire({ topic: MOTION, at, source: {}, data: { State: '1' } });
    await done;
    ms.push(performance.now() - t0);
  }
  return ms;
}

// Without the pre-event buffer.
let agent = await startEventsAgent('plain');
await pause(2000);
const idlePlain = await rssOf(agent.pid);
const eventMs = await fireEvents(Date.parse('2026-12-01T06:00:00.000Z'));
const peakPlain = await rssOf(agent.pid);
await stopAgent(agent);

// With it: full after frames/fps seconds; measured once full, then after N events (two objects each).
agent = await startEventsAgent('prebuffer', PRE);
await pause((PRE.frames / PRE.fps) * 1000 + 2000);
const idleBuffer = await rssOf(agent.pid);
const bufferedMs = await fireEvents(Date.parse('2026-12-01T07:00:00.000Z'));
const peakBuffer = await rssOf(agent.pid);
await stopAgent(agent);

// The floor: the same capture and the same POST with the grant's fields, no MQTT and no queue.
const granted = await dc.handler.handle({ kind: 'snapshot', thing, reason: 'grant' });
const WARMUP = 5;
const posts = [];
for (let i = 0; i < N + WARMUP; i++) {
  const at = new Date(Date.parse('2026-12-01T08:00:00.000Z') + i * 1000).toISOString();
  const key = eventKey(thing, 'floor', new Date(at));
  posts.push({ url: granted.grant.url, fields: grantUploadFields(granted.grant, key, { trigger: 'floor', topic: MOTION, time: at, frameTime: at }) });
}
const floor = spawn(process.execPath, [path.join(root, 'scripts/bench-floor.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
floor.stdin.end(JSON.stringify({ camera: info.cameras[thing], resolution: values.resolution, posts }));
let floorOut = '';
floor.stdout.on('data', (c) => (floorOut += c));
await new Promise((r) => floor.once('exit', r));
const floorMs = JSON.parse(floorOut).slice(WARMUP);

await dc.stop();
await rm(dir, { recursive: true, force: true });

const p50 = pct(eventMs, 50);
const f50 = pct(floorMs, 50);
printTable([
  ['events', String(N), `${values.resolution}, one after another`],
  ['event → object p50', `${p50.toFixed(0)} ms`, 'camera event to the picture stored in S3'],
  ['event → object p95', `${pct(eventMs, 95).toFixed(0)} ms`, ''],
  ['floor p50 (VAPIX GET + POST with the grant)', `${f50.toFixed(0)} ms`, 'no MQTT, no queue'],
  ['floor p95', `${pct(floorMs, 95).toFixed(0)} ms`, ''],
  ['event p50 / floor p50', `${(p50 / f50).toFixed(2)}x`, p50 <= 1.2 * f50 ? 'target ≤ 1.2x: met' : 'target ≤ 1.2x: MISSED'],
  ['event → object p50 with the pre-event buffer', `${pct(bufferedMs, 50).toFixed(0)} ms`, `p95 ${pct(bufferedMs, 95).toFixed(0)} ms; the .pre.jpg goes first`],
  ['agent RSS idle, events on', `${idlePlain.rss.toFixed(1)} MB`, `private ${idlePlain.private.toFixed(1)} MB`],
  [`agent RSS idle, pre-event buffer ${PRE.frames} frames at ${PRE.fps} fps`, `${idleBuffer.rss.toFixed(1)} MB`, `private ${idleBuffer.private.toFixed(1)} MB; buffer full (1280x720)`],
  ['agent RSS peak (VmHWM), events on', `${peakPlain.hwm.toFixed(1)} MB`, `after ${N} events`],
  ['agent RSS peak (VmHWM), with the buffer', `${peakBuffer.hwm.toFixed(1)} MB`, `after ${N} events`],
  ['broker', `${info.mqtt.broker}`, `MQTT ${info.mqtt.mqttVersions.includes(5) ? '5' : '3.1.1'}`],
]);
