#!/usr/bin/env node
// `make bench-live`: live view end to end on loopback. A benchmark, not a test: it prints a table and
// whether each target holds, and exits 0 either way (1 only if it broke).
//   time to first frame: Live pressed (the viewer API's work: channel, ICE servers, presigned URL, the
//     LiveRequest over MQTT) → first frame decoded and presented in chromium, the camera not streaming
//     before (each run waits for the agent's idle stop: the camera's RTSP session count back at 0);
//   glass-to-glass latency: the capture time in each frame's SEI (the simulated camera's clock) →
//     presented in chromium (requestVideoFrameCallback), same machine, same clock;
//   the agent's CPU with 1 and 4 viewers, and its RSS with live off (live.enabled false, and enabled but
//     never asked), 1 and 4 viewers.
// The agent is the one that ships for this machine (x64 package and its launcher, like `make bench`).
// The viewer is a minimal page of native RTCPeerConnection + WebSocket (src/packaging/live-viewer.ts),
// signalled as the viewer API does it with devcloud's cloud key pair.
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { pct, printTable, rssOf, shippedAgent, startLiveBench, startProcess, stopAgent } from './bench-lib.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, frames: { type: 'string', default: '45' }, 'idle-seconds': { type: 'string', default: '3' } } });
const RUNS = Number(values.runs);
const FRAMES = Number(values.frames);
const IDLE_S = Number(values['idle-seconds']);

const { dir, dc, thing, info, camera, configPath, viewer } = await startLiveBench('bench-live', IDLE_S);
const { viewerTarget, goLive, openLiveBrowser } = viewer;

const CLK_TCK = 100;
const cpuTicks = async (pid) => {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
};
/** CPU of pid over `ms`, in percent of one core. */
const cpuOver = async (pid, ms) => {
  const a = await cpuTicks(pid);
  await new Promise((r) => setTimeout(r, ms));
  return ((await cpuTicks(pid)) - a) / CLK_TCK / (ms / 1000) * 100;
};

/** Starts the shipped agent; resolves once it is connected and its first events are out. */
async function startAgent(name, edit) {
  const agent = await shippedAgent(path.join(dir, name), configPath, edit);
  const child = startProcess(agent, { CLOUDCAM_LOG_LEVEL: 'info' }, 'pipe');
  const lines = [];
  const connected = new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the agent exited (${code}) before it connected`)));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const e = JSON.parse(line.replace(/^<\d>/, ''));
        lines.push(e);
        if (e.msg === 'MQTT connected') resolve();
      } catch {
        // not a JSON line
      }
    });
  });
  await connected;
  return { child, lines, node: agent.node };
}
const settle = (ms) => new Promise((r) => setTimeout(r, ms));

// Live off: the feature switched off, then on but never asked (it loads lazily on the first request).
const off = await startAgent('app-off', (c) => ({ ...c, live: { ...c.live, enabled: false } }));
await settle(3000);
const rssDisabled = await rssOf(off.child.pid);
await stopAgent(off.child);

const { child: agent, lines, node } = await startAgent('app', (c) => c);
await settle(3000);
const rssIdle = await rssOf(agent.pid);
const cpuIdle = await cpuOver(agent.pid, 3000);

const browser = await openLiveBrowser(info);
const firstFrameMs = [];
const latencyMs = [];
let frameSize = '';
let failures = 0;
try {
  for (let i = 0; i < RUNS; i++) {
    await camera.rtsp.untilSessions((n) => n === 0, (IDLE_S + 30) * 1000); // not streaming before Live is pressed
    await browser.prepare(1); // the tab is open before Live is pressed, as in the viewer
    const t0 = Date.now();
    const target = await viewerTarget(info, thing);
    await goLive(info, thing);
    const r = await browser.watch(target, FRAMES, 15_000);
    if (r.firstFrameAt === undefined) {
      failures++;
      console.error(`run ${i + 1}: ${r.error ?? 'no frame'}`);
    } else {
      firstFrameMs.push(r.firstFrameAt - t0);
      // The first frames wait in the jitter buffer while the connection settles; steady state from the 10th on.
      latencyMs.push(...r.latenciesMs.slice(10));
      frameSize = `${r.width}x${r.height}`;
    }
    await browser.stopAll();
  }

  // One viewer, steady: CPU and RSS.
  await camera.rtsp.untilSessions((n) => n === 0, (IDLE_S + 30) * 1000);
  const phaseStart = Date.now();
  await browser.prepare(4);
  await goLive(info, thing);
  const one = await browser.watch(await viewerTarget(info, thing), FRAMES, 15_000);
  if (one.firstFrameAt === undefined) throw new Error(`one viewer: ${one.error}`);
  const cpu1 = await cpuOver(agent.pid, 5000);
  const rss1 = await rssOf(agent.pid);
  // Three more on the same live session: four viewers.
  const more = await Promise.all([0, 1, 2].map(async () => browser.watch(await viewerTarget(info, thing), FRAMES, 15_000)));
  const watching = more.filter((r) => r.firstFrameAt !== undefined).length + 1;
  const cpu4 = await cpuOver(agent.pid, 5000);
  const rss4 = await rssOf(agent.pid);
  const stoppedIn = Date.now();
  await browser.stopAll();
  await camera.rtsp.untilSessions((n) => n === 0, (IDLE_S + 30) * 1000);
  const stopMs = Date.now() - stoppedIn;

  const liveLines = lines.filter((e) => typeof e.event === 'string' && e.event.startsWith('live.')).length;
  const mb = (x) => `${x.toFixed(1)} MB`;
  const p = (xs, q) => (xs.length ? `${pct(xs, q).toFixed(0)} ms` : 'n/a');
  const f50 = firstFrameMs.length ? pct(firstFrameMs, 50) : Infinity;
  const l50 = latencyMs.length ? pct(latencyMs, 50) : Infinity;
  printTable([
    ['runs (first frame)', `${firstFrameMs.length}/${RUNS}`, failures ? `${failures} without a frame in 15 s` : 'every run decoded frames'],
    ['frame size decoded', frameSize, 'the camera stream (1280x720 at 15 fps)'],
    ['time to first frame p50', p(firstFrameMs, 50), f50 <= 1500 ? 'target ≤ 1.5 s: met' : 'target ≤ 1.5 s: MISSED'],
    ['time to first frame p95', p(firstFrameMs, 95), 'Live pressed → first frame presented; camera idle before'],
    ['glass-to-glass latency p50', p(latencyMs, 50), `${l50 <= 150 ? 'target ≤ 150 ms: met' : 'target ≤ 150 ms: MISSED'}; ${latencyMs.length} frames (SEI capture time → presented)`],
    ['glass-to-glass latency p95', p(latencyMs, 95), ''],
    ['agent CPU idle (live on, nobody watching)', `${cpuIdle.toFixed(1)} %`, 'of one core'],
    ['agent CPU, 1 viewer', `${cpu1.toFixed(1)} %`, 'of one core, 5 s'],
    ['agent CPU, 4 viewers', `${cpu4.toFixed(1)} %`, `${watching} watching; ${((cpu4 - cpu1) / Math.max(1, watching - 1)).toFixed(1)} % per extra viewer`],
    ['agent RSS, live.enabled false', mb(rssDisabled.rss), `private ${mb(rssDisabled.private)}`],
    ['agent RSS, live on, never asked', mb(rssIdle.rss), `private ${mb(rssIdle.private)}; ${Math.abs(rssIdle.rss - rssDisabled.rss) <= 1 ? 'target unchanged (±1 MB): met' : 'target unchanged (±1 MB): MISSED'}`],
    ['agent RSS, 1 viewer', mb(rss1.rss), `+${(rss1.rss - rssIdle.rss).toFixed(1)} MB over idle`],
    ['agent RSS, 4 viewers', mb(rss4.rss), `+${(rss4.rss - rssIdle.rss).toFixed(1)} MB over idle; ${rss4.rss - rssIdle.rss <= 15 ? 'target ≤ +15 MB: met' : 'target ≤ +15 MB: MISSED'}`],
    ['RTSP session ended after the last viewer', `${(stopMs / 1000).toFixed(1)} s`, `live.idleSeconds ${IDLE_S}`],
    ['agent live log lines', String(liveLines), ''],
    ['node (agent / bench)', `${node} / ${process.version}`, `${os.cpus().length} cores, loopback`],
  ]);
  // What the agent said during the 1- and 4-viewer phase, to read the CPU and RSS figures against.
  const phase = lines.filter((e) => typeof e.event === 'string' && e.event.startsWith('live.') && Date.parse(e.time) >= phaseStart);
  console.log(`\nagent live events, 1/4-viewer phase: ${phase.map((e) => `${e.event}${e.viewers === undefined ? '' : `(${e.viewers})`}${e.why ? ` [${e.why}]` : ''}`).join(', ')}`);
} finally {
  await browser.close();
  await stopAgent(agent);
  await dc.stop();
  await rm(dir, { recursive: true, force: true });
}
