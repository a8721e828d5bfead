#!/usr/bin/env node
// `make bench`: the snapshot path's latency and the agent's memory, on loopback. A benchmark, not a
// test: it prints a table and whether each target holds, and exits 0 either way (1 only if it broke).
//   p50/p95 from delta received to upload acknowledged (the agent's report `ms`), over N snapshots;
//   the floor for the same bytes: a direct VAPIX GET then presigned POST from this process, no MQTT;
//   the agent process's RSS, private memory (smaps_rollup) and V8 heap when idle, and its peak (VmHWM).
// The agent measured is the one that ships, built for this machine: the x64 package (`make bench`
// builds it: the official Node single executable of the newest LTS line, as aarch64 ships) started by
// its launcher, with the launcher's V8/libuv/malloc settings, its executable's pages read from disk
// (bench-lib.mjs dropFromPageCache). Per runtime and settings, with the breakdown: bench-memory.mjs. For comparison, idle only: the same bundle run
// by this machine's node without the launcher (`node bundle`), and `node dist/cli.js agent` (the
// development entry, unbundled).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bundledAgent, pct, printTable, root, rssOf, shippedAgent, snapshots, startIdle, stopAgent } from './bench-lib.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { values } = parseArgs({ options: { n: { type: 'string', default: '100' }, broker: { type: 'string' }, resolution: { type: 'string', default: '1920x1080' } } });
const N = Number(values.n);

const { startDevcloud } = await import(path.join(root, 'dist/devcloud/devcloud.js'));
const { createLogger } = await import(path.join(root, 'dist/lib/log.js'));
const { createCloudHandler } = await import(path.join(root, 'dist/cloud/handler.js'));

const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-bench-'));
const tStart = performance.now();
const dc = await startDevcloud({
  stateDir: dir,
  cameras: 1,
  ...(values.broker ? { broker: values.broker } : {}),
  log: createLogger({ name: 'devcloud', level: 'warn' }),
  // Thumbnails run in a Lambda of their own in AWS; in devcloud they would share this process's CPU
  // with the stand-ins and slow whichever phase (agent or floor) comes after the uploads.
  thumbnails: false,
  agentOverrides: { log: { level: 'warn', format: 'json' }, snapshot: { resolution: values.resolution } },
});
const devcloudReadyMs = performance.now() - tStart;
const thing = 'camera-1';
const info = dc.info;

// The development entry first, idle only.
const cli = await startIdle(dc, thing, { command: process.execPath, argv: [path.join(root, 'dist/cli.js'), 'agent', '--config', info.devices[thing].agentConfigPath], env: {} });
await stopAgent(cli.child);

// The same bundle run by this machine's node, no launcher: the figure `make bench` reported before.
const bundled = await startIdle(dc, thing, await bundledAgent(path.join(dir, 'bundle'), info.devices[thing].agentConfigPath));
await stopAgent(bundled.child);

// The shipped agent: the x64 package and its launcher, settings in localdata/cloudcam.json.
const shipped = await shippedAgent(path.join(dir, 'app'), info.devices[thing].agentConfigPath);
const { child: agent, idle } = await startIdle(dc, thing, shipped);

const reports = await snapshots(dc, thing, N);
const agentMs = reports.map((r) => r.ms);
const bytes = reports.reduce((a, r) => a + r.bytes, 0);
const peak = await rssOf(agent.pid);

// The floor: the same work without MQTT or the shadow, in its own process like the agent.
const presigner = createCloudHandler({
  region: info.region, bucket: info.s3.bucket, shadowName: 'bench-floor', expiresSeconds: 300, maxBytes: 5 * 1024 * 1024,
  s3Endpoint: info.s3.url, iotDataEndpoint: info.dataPlane.url, credentials: { accessKeyId: info.dataPlane.accessKeyId, secretAccessKey: info.dataPlane.secretAccessKey },
});
const posts = [];
const WARMUP = 5; // the agent was warmed by its first snapshot; warm the floor's process alike
for (let i = 0; i < N + WARMUP; i++) {
  const r = await presigner.handle({ kind: 'snapshot', thing, reason: 'floor' });
  posts.push({ url: r.request.url, fields: r.request.fields });
}
const floor = spawn(process.execPath, [path.join(root, 'scripts/bench-floor.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
floor.stdin.end(JSON.stringify({ camera: info.cameras[thing], resolution: values.resolution, posts }));
let floorOut = '';
floor.stdout.on('data', (c) => (floorOut += c));
await new Promise((r) => floor.once('exit', r));
const floorMs = JSON.parse(floorOut).slice(WARMUP);
presigner.destroy();

await stopAgent(agent);
await dc.stop();
await rm(dir, { recursive: true, force: true });

const p50 = pct(agentMs, 50);
const f50 = pct(floorMs, 50);
const rows = [
  ['snapshots', String(N), ''],
  ['mean JPEG size', `${(bytes / N / 1024).toFixed(1)} KB`, values.resolution],
  ['agent p50 (delta → upload acked)', `${p50.toFixed(0)} ms`, ''],
  ['agent p95', `${pct(agentMs, 95).toFixed(0)} ms`, ''],
  ['floor p50 (VAPIX GET + POST, no MQTT)', `${f50.toFixed(0)} ms`, ''],
  ['floor p95', `${pct(floorMs, 95).toFixed(0)} ms`, ''],
  ['agent p50 / floor p50', `${(p50 / f50).toFixed(2)}x`, p50 <= 1.5 * f50 ? 'target ≤ 1.5x: met' : 'target ≤ 1.5x: MISSED'],
  ['shipped agent RSS idle', `${idle.rss.toFixed(1)} MB`, `x64 single executable + launcher; ${idle.rss <= 52 ? 'target ≤ 52 MB: met' : 'target ≤ 52 MB: MISSED'}`],
  ['shipped agent private memory idle', `${idle.private.toFixed(1)} MB`, `Private_Dirty (smaps_rollup); ${idle.private <= 16 ? 'target ≤ 16 MB: met' : 'target ≤ 16 MB: MISSED'}`],
  ['shipped agent V8 heap used / total idle', `${idle.heapUsed.toFixed(1)} / ${idle.heapTotal.toFixed(1)} MB`, `heap probe (no forced GC: it would move the peak); code space ${idle.codeSpace.toFixed(1)} MB, external ${idle.external.toFixed(1)} MB`],
  ['shipped agent RSS peak (VmHWM)', `${peak.hwm.toFixed(1)} MB`, `after ${N} snapshots; ${peak.hwm <= 65 ? 'target ≤ 65 MB: met' : 'target ≤ 65 MB: MISSED'}`],
  ['node bundle RSS idle', `${bundled.idle.rss.toFixed(1)} MB`, `private ${bundled.idle.private.toFixed(1)} MB, V8 heap ${bundled.idle.heapUsed.toFixed(1)} MB; node ${process.version}, no launcher (the figure before)`],
  ['dev entry RSS idle (dist/cli.js agent)', `${cli.idle.rss.toFixed(1)} MB`, 'unbundled; not what ships'],
  ['devcloud ready (files written)', `${devcloudReadyMs.toFixed(0)} ms`, devcloudReadyMs < 3000 ? 'target < 3 s: met' : 'target < 3 s: MISSED'],
  ['broker', `${info.mqtt.broker}`, `MQTT ${info.mqtt.mqttVersions.includes(5) ? '5' : '3.1.1'}`],
  ['node (shipped / bundle)', `${shipped.node} / ${process.version}`, `${os.cpus().length} cores`],
];
printTable(rows);
