#!/usr/bin/env node
// `make run`: devcloud with one camera and the real agent process against it. Snapshots are asked for
// on connect and then every few seconds (the agent's schedule); one line is printed per snapshot.
// Ctrl-C stops everything cleanly. `--count N` stops by itself after N snapshots (used by tests).
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const show = (p) => {
  const rel = path.relative(process.cwd(), p);
  return rel === '' || rel.startsWith('..') ? p : rel;
};
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    'state-dir': { type: 'string', default: '.devcloud' },
    count: { type: 'string' },
    every: { type: 'string', default: '5' },
    broker: { type: 'string' },
  },
});
const stateDir = path.resolve(values['state-dir']);
const stopAfter = values.count ? Number(values.count) : Infinity;
const every = Number(values.every);
if (!Number.isInteger(every) || every < 1 || every > 59) {
  console.error(`--every must be 1..59 seconds, got ${values.every}`);
  process.exit(2);
}

const { startDevcloud } = await import(path.join(root, 'dist/devcloud/devcloud.js'));
const { createLogger } = await import(path.join(root, 'dist/lib/log.js'));
const { isSuperseded } = await import(path.join(root, 'dist/protocol/snapshot.js'));

const t0 = Date.now();
const devcloud = await startDevcloud({
  stateDir,
  cameras: 1,
  ...(values.broker ? { broker: values.broker } : {}),
  log: createLogger({ name: 'devcloud', level: 'warn' }),
  agentOverrides: {
    schedule: { cron: `*/${every} * * * * *` },
    log: { format: 'pretty', level: 'info' },
    // Event snapshots on the simulator's motion events (docs/protocol.md §8): fire one with the curl below.
    events: { triggers: [{ name: 'motion', topic: 'tns1:VideoSource/MotionAlarm', when: { State: '1' }, cooldownSeconds: 0 }] },
  },
});
const thing = 'camera-1';
const s3Dir = devcloud.info.s3.dir;
console.log(`devcloud up in ${Date.now() - t0} ms: MQTT ${devcloud.info.mqtt.url} (${devcloud.info.mqtt.broker}), S3 ${devcloud.info.s3.url}, camera ${devcloud.info.cameras[thing].url} (HTTP ${devcloud.info.cameras[thing].httpUrl} for the agent)`);
console.log(`viewer: ${devcloud.info.viewer.url}  (sign in as ${devcloud.info.viewer.username} / ${devcloud.info.viewer.password})`);
// Live: the viewer's Live button signals over a WSS whose certificate devcloud's own CA signed, which
// no browser trusts (in AWS the endpoint has a public certificate). Say how to watch, before anyone presses it.
const help = devcloud.viewer.liveBrowserHelp;
if (help) {
  console.log(`live view: the Live button needs a browser that trusts devcloud's signalling certificate; your usual browser does not. A chromium with a profile of its own that trusts that certificate's key only:`);
  console.log(`  ${help.command}`);
  console.log(`  (or import ${show(help.caPath)} as an authority in your browser and remove it when done: meanwhile it trusts whatever devcloud's CA signs)`);
}

const requestedAt = new Map(); // request id -> time the cloud handler wrote it
const storedAt = new Map(); // key -> { at, size, path }
devcloud.rules.on('handled', (r) => {
  if (r.action === 'requested') requestedAt.set(r.request.id, Date.now());
});
devcloud.s3.events.on('object', (o) => {
  storedAt.set(o.key, { at: Date.now(), size: o.size, path: o.path });
  if (o.key.startsWith(`${thing}/events/`)) {
    console.log(`${new Date().toISOString().slice(11, 19)}  ⚡ ${thing}  ${(o.size / 1024).toFixed(1).padStart(6)} KB  event ${o.metadata.trigger} (${o.metadata['event-topic']})  ${show(o.path)}`);
  }
});
console.log(
  `fire a motion event: curl -X POST ${devcloud.info.control.url}/cameras/${thing}/events -H 'content-type: application/json' -d '{"topic": "tns1:VideoSource/MotionAlarm", "data": {"State": "1"}}'`,
);

let seen = 0;
let failures = 0;
const printed = new Set();
devcloud.store.on('updated', (key, result) => {
  const rep = result?.documents?.current?.state?.reported?.snapshot;
  if (!rep || key.thing !== thing || printed.has(rep.id) || result?.documents?.previous?.state?.reported?.snapshot?.id === rep.id) return;
  printed.add(rep.id);
  const time = new Date().toISOString().slice(11, 19);
  // Snapshots asked for faster than they complete (a loaded machine, --every 1): the agent answers the
  // older waiting request "superseded" (snapshot/queue.ts). Shown, not counted as a failure.
  if (isSuperseded(rep)) {
    console.log(`${time}  ↷ ${thing}  skipped: ${rep.error} (asked for faster than snapshots complete)`);
    return;
  }
  if (rep.status === 'uploaded') {
    const obj = storedAt.get(rep.key);
    const t = requestedAt.get(rep.id);
    const e2e = t !== undefined && obj ? `${obj.at - t} ms request→S3` : `${rep.ms} ms`;
    console.log(`${time}  ✓ ${thing}  ${(rep.bytes / 1024).toFixed(1).padStart(6)} KB  ${e2e.padEnd(18)}  ${show(obj?.path ?? path.join(s3Dir, rep.key))}`);
  } else {
    failures += 1;
    console.log(`${time}  ✗ ${thing}  ${rep.status}: ${rep.error}`);
  }
  seen += 1;
  if (seen >= stopAfter) void shutdown('count reached');
});

const agentLog = createWriteStream(path.join(stateDir, 'agent.log'), { flags: 'a' });
const agent = spawn(process.execPath, [path.join(root, 'dist/cli.js'), 'agent', '--config', devcloud.info.devices[thing].agentConfigPath], {
  stdio: ['ignore', 'pipe', 'pipe'],
  // Its own process group: Ctrl-C reaches this script, which stops the agent in order (agent first).
  detached: true,
});
process.on('exit', () => {
  if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
});
// The agent's own log goes to a file; warnings and errors are echoed here too.
for (const stream of [agent.stdout, agent.stderr]) {
  let rest = '';
  stream.on('data', (chunk) => {
    agentLog.write(chunk);
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (/ (WARN|ERROR|FATAL) /.test(line) || stream === agent.stderr) console.log(`agent: ${line}`);
  });
}
console.log(`agent started (pid ${agent.pid}); its log: ${show(path.join(stateDir, 'agent.log'))}. Snapshots every ${every} s; Ctrl-C stops.`);

let exiting = false;
agent.on('exit', (code, signal) => {
  if (!exiting) {
    console.error(`agent exited unexpectedly (code ${code}, signal ${signal}); see ${path.join(stateDir, 'agent.log')}`);
    void shutdown('agent exited', 1);
  }
});

async function shutdown(why, code = 0) {
  if (exiting) return;
  exiting = true;
  if (agent.exitCode === null && agent.signalCode === null) {
    const exited = new Promise((resolve) => agent.once('exit', resolve));
    agent.kill('SIGTERM');
    await exited;
  }
  await devcloud.stop();
  agentLog.end();
  console.log(`stopped (${why}): ${seen} snapshot(s), ${failures} failed; uploads are under ${show(s3Dir)}`);
  process.exit(code !== 0 ? code : failures > 0 && stopAfter !== Infinity ? 1 : 0);
}
process.on('SIGINT', () => void shutdown('Ctrl-C'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
