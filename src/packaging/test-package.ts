/**
 * `make test-package`: proves each built .eap runs. Per package (flavours.ts): unpack the .eap as AXIS OS
 * would, give it a site file pointing at a devcloud on this host, run its launcher (the runtime under
 * qemu-user with a sysroot standing for the camera's glibc: Debian 12's for the official Node, whose
 * floor is glibc 2.28; Debian 13's for Debian's nodejs, which needs 2.38), check that the runtime is
 * the one the package's notes claim, and complete a snapshot roundtrip (cloud request -> agent -> camera
 * simulator -> S3 -> shadow report). Keyless, as on AXIS OS 11.9+: the site file holds no camera
 * account; the agent gets its VAPIX credentials over D-Bus from devcloud's service-account stand-in
 * (a private dbus-daemon per camera) and calls the camera's local virtual host. Prints .eap size, unpacked size, Node version and time to
 * connected; exits non-zero on any failure.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { DevcloudInfo } from '../devcloud/info.js';
import { checkEmulation, emulatedCommand, emulationRunner } from './emulation.js';
import { sysrootDir } from './emulation.js';
import { parseArchList, TARGETS } from './targets.js';
import { flavoursFor, RUNTIME_NOTES_FILE, type Flavour, type RuntimeNotes } from './flavours.js';
import { appLauncherScript, DEBIAN_BUNDLE, SEA_EXECUTABLE } from './app-launcher.js';
import { debianSysrootDir } from './debian-runtime.js';
import { RUNTIME_FILE } from '../agent/runtime-settings.js';
import { treeSize } from './archive.js';
import type { BuildInfo } from './build.js';
import { APP_NAME, buildPackages } from './build.js';
import { launcherScript, LAUNCHER_NAME } from '../agent/update/gateway-launcher.js';
import { LAZY_CHUNKS } from './lazy-chunks.js';
import { AgentEvents, type LogEvent } from './agent-events.js';
import { checkPackageLive, PackageLiveViewer } from './package-live.js';

const CONNECT_TIMEOUT_MS = 120_000;
const ROUNDTRIP_TIMEOUT_MS = 60_000;

interface Result {
  flavour: string;
  /** The live check: `cloudcam setup live` started → the restarted agent connected, then Live asked → first frame in chromium (ms). */
  live: { restartMs: number; firstFrameMs: number; size: string };
  eapBytes: number;
  unpackedBytes: number;
  node: string;
  origin: string;
  connectMs: number;
  roundtripMs: number;
  bytes: number;
  /** Peak RSS of the emulated process (qemu's own memory included). */
  hwmMb: number;
}


/** Starts `cloudcam devcloud` as its own process and resolves when devcloud.json appears. */
async function startDevcloud(dir: string, cameras: number): Promise<{ info: DevcloudInfo; proc: ChildProcess }> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // devcloud's own log goes to a file beside its state; printed only when something fails.
  const logFd = fs.openSync(path.join(path.dirname(dir), 'devcloud.log'), 'a');
  const proc = spawn(process.execPath, [path.resolve('dist/cli.js'), 'devcloud', '--state-dir', dir, '--cameras', String(cameras), '--service-accounts'], { stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  const infoFile = path.join(dir, 'devcloud.json');
  const ready = new Promise<void>((resolve, reject) => {
    const watcher = fs.watch(dir, () => {
      if (fs.existsSync(infoFile)) done();
    });
    const timer = setTimeout(() => finish(new Error('devcloud did not write devcloud.json within 30 s')), 30_000);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      watcher.close();
      proc.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    const done = (): void => finish();
    const onExit = (code: number | null): void => finish(new Error(`devcloud exited (${code}) before it was ready`));
    proc.on('exit', onExit);
    if (fs.existsSync(infoFile)) done();
  });
  try {
    await ready;
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return { info: JSON.parse(fs.readFileSync(infoFile, 'utf8')) as DevcloudInfo, proc };
}

function readInfo(packageDir: string, id: string): BuildInfo & { eap: string } {
  const info = JSON.parse(fs.readFileSync(path.join(packageDir, `build-info-${id}.json`), 'utf8')) as BuildInfo;
  if (!info.eap) throw new Error(`${id}: build-info-${id}.json names no .eap`);
  return { ...info, eap: info.eap };
}

/** The sysroot standing for the camera's C library under qemu. */
function sysrootFor(flavour: Flavour): string {
  return flavour.runtime === 'debian' ? debianSysrootDir() : checkEmulation(TARGETS[flavour.arch]);
}

/** Runs the package's `--version` through its launcher; checks what the running runtime says against runtime.json. */
function checkRuntimeClaim(flavour: Flavour, appDir: string): { node: string; origin: string } {
  const notes = JSON.parse(fs.readFileSync(path.join(appDir, RUNTIME_NOTES_FILE), 'utf8')) as RuntimeNotes;
  const out = execFileSync('sh', [path.join(appDir, APP_NAME), '--version'], { encoding: 'utf8', cwd: os.tmpdir(), env: { PATH: '/usr/bin:/bin' } });
  const m = /node (v[\d.]+) (\w+); (\w+) build/.exec(out);
  const target = TARGETS[flavour.arch];
  if (!m || m[2] !== target.nodeArch) throw new Error(`${flavour.id}: --version printed "${out.trim()}", expected node for ${target.nodeArch}`);
  if (m[1] !== notes.node || m[3] !== notes.origin) throw new Error(`${flavour.id}: the runtime says node ${m[1]} (${m[3]} build), the package's ${RUNTIME_NOTES_FILE} claims ${notes.node} (${notes.origin})`);
  if (!out.includes(`runtime: ${notes.source}`)) throw new Error(`${flavour.id}: --version does not name the runtime's source "${notes.source}":\n${out}`);
  if (notes.pastEndOfLife && !/END OF LIFE since .*way out: .*NODE_TARBALL_/.test(out)) throw new Error(`${flavour.id}: an end-of-life runtime, but --version does not say so with the way out:\n${out}`);
  return { node: m[1] ?? '', origin: m[3] ?? '' };
}

/** Debian's nodejs must refuse to start on AXIS OS 11's C library (Debian 12's glibc 2.36 stands for it): the reason the package says AXIS OS 12. */
function checkGlibcFloor(flavour: Flavour, appDir: string): void {
  const oldRoot = checkEmulation(TARGETS[flavour.arch]);
  const run = emulatedCommand(TARGETS[flavour.arch], path.join(appDir, 'node'), ['--version'], process.env, oldRoot);
  const r = spawnSync(run.file, run.args, { encoding: 'utf8', env: { LD_LIBRARY_PATH: path.join(appDir, 'lib') } });
  if (r.status === 0) throw new Error(`${flavour.id}: node started on glibc 2.36, so the package need not say AXIS OS 12: check its manifest range`);
  if (!/GLIBC_2\.3[4-9]' not found/.test(r.stderr)) throw new Error(`${flavour.id}: on glibc 2.36 node failed, but not for its glibc version: ${r.stderr}`);
}

async function testFlavour(flavour: Flavour, dc: DevcloudInfo, thing: string, packageDir: string, work: string, viewer: PackageLiveViewer): Promise<Result> {
  const info = readInfo(packageDir, flavour.id);
  const appDir = path.join(work, flavour.id, APP_NAME);
  fs.mkdirSync(appDir, { recursive: true });
  execFileSync('tar', ['xzf', info.eap, '-C', appDir]);
  const runtimeFiles = flavour.runtime === 'sea' ? [SEA_EXECUTABLE] : ['node', DEBIAN_BUNDLE, 'lib', 'builtins'];
  // certs/release-keys/: the release public keys cloudcam.update trusts (docs/update.md) travel in the package.
  // The packed lazy chunks (live view's code) sit beside the executable or agent.js (lazy-chunks.ts).
  for (const f of [APP_NAME, 'manifest.json', 'LICENSE', 'cloudcam.defaults.json', RUNTIME_NOTES_FILE, 'certs/release-keys/README.md', ...runtimeFiles, ...LAZY_CHUNKS.map((c) => c.file)]) {
    if (!fs.existsSync(path.join(appDir, f))) throw new Error(`${flavour.id}: ${path.basename(info.eap)} has no ${f}`);
  }
  const unpackedBytes = treeSize(appDir);
  // The launcher as shipped, then the same with the runtime run through qemu (the only change).
  const launcher = path.join(appDir, APP_NAME);
  if (fs.readFileSync(launcher, 'utf8') !== appLauncherScript(APP_NAME, flavour.runtime, '', flavour.runtimeDefaults)) throw new Error(`${flavour.id}: the packaged launcher is not appLauncherScript's`);
  fs.writeFileSync(launcher, appLauncherScript(APP_NAME, flavour.runtime, emulationRunner(TARGETS[flavour.arch], sysrootFor(flavour)), flavour.runtimeDefaults));
  const node = checkRuntimeClaim(flavour, appDir);
  if (flavour.runtime === 'debian') checkGlibcFloor(flavour, appDir);

  // The site file an installer would write: devcloud's ready agent config (its certificate paths
  // are the host's; qemu-user falls back to host paths outside the sysroot), state under localdata/.
  const site = JSON.parse(fs.readFileSync(dc.devices[thing]!.agentConfigPath, 'utf8')) as Record<string, unknown>;
  site['stateDir'] = 'localdata/state';
  site['schedule'] = { cron: '' };
  const serviceAccount = dc.cameras[thing]?.serviceAccount;
  const arch = flavour.id;
  if (!serviceAccount) throw new Error(`${arch}: devcloud gives no service account for ${thing} (is dbus-daemon installed?)`);
  // No password anywhere: only the local virtual host, whose credentials come over D-Bus.
  site['camera'] = { serviceAccountUrl: serviceAccount.url };
  fs.mkdirSync(path.join(appDir, 'localdata'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(appDir, 'localdata', 'cloudcam.json'), JSON.stringify(site, null, 2), { mode: 0o600 });
  // For measuring the settings' cost (docs/benchmarks.md): TEST_PACKAGE_NODE_OPTIONS=none runs without them.
  const nodeOptions = process.env['TEST_PACKAGE_NODE_OPTIONS'];
  if (nodeOptions) fs.writeFileSync(path.join(appDir, 'localdata', RUNTIME_FILE), `NODE_OPTIONS=${nodeOptions}\nUV_THREADPOOL_SIZE=4\n`);

  const started = Date.now();
  // A minimal environment, as systemd gives an ACAP app; the cwd is not the package directory.
  const appEnv = { PATH: '/usr/bin:/bin', CLOUDCAM_LOG_LEVEL: 'info', DBUS_SYSTEM_BUS_ADDRESS: serviceAccount.busAddress };
  const proc = spawn('sh', [launcher], { cwd: os.tmpdir(), env: appEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  // Passed through, and kept: V8 reports a flag this target's Node does not know (runtime-tuning.ts)
  // only as a line on stderr.
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    process.stderr.write(chunk);
  });
  const events = new AgentEvents(proc);
  try {
    const runtime = await events.wait('the runtime line', (e) => e['event'] === 'agent.runtime', CONNECT_TIMEOUT_MS, proc);
    const expectedOptions = nodeOptions ? (nodeOptions === 'none' ? '' : nodeOptions) : flavour.runtimeDefaults.nodeOptions;
    if (runtime['nodeOptions'] !== expectedOptions) throw new Error(`${arch}: the agent runs with NODE_OPTIONS "${String(runtime['nodeOptions'])}", the launcher should have set "${expectedOptions}"`);
    const access = await events.wait('the VAPIX access line', (e) => e['event'] === 'camera.access', CONNECT_TIMEOUT_MS, proc);
    if (access['access'] !== 'service-account') throw new Error(`${arch}: the agent uses ${String(access['access'])} VAPIX access, expected the D-Bus service account: ${String(access['msg'])}`);
    await events.wait('MQTT connection', (e) => e['msg'] === 'MQTT connected', CONNECT_TIMEOUT_MS, proc);
    const connectMs = Date.now() - started;

    const t0 = Date.now();
    const res = await fetch(`${dc.control.url}/things/${thing}/snapshot`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    const handled = (await res.json()) as { action?: string; request?: { id?: string } };
    const id = handled.request?.id;
    if (res.status !== 200 || handled.action !== 'requested' || !id) throw new Error(`${arch}: devcloud did not create a request: ${JSON.stringify(handled)}`);
    const done = await events.wait(`report of ${id}`, (e) => e['id'] === id && typeof e['event'] === 'string' && /^snapshot\.(uploaded|failed|rejected|expired)$/.test(e['event']), ROUNDTRIP_TIMEOUT_MS, proc);
    if (done['event'] !== 'snapshot.uploaded') throw new Error(`${arch}: snapshot ${id} ended as ${String(done['event'])}: ${JSON.stringify(done['error'] ?? '')}`);
    const roundtripMs = Date.now() - t0;

    // The proof outside the agent's word: the object in S3 and the report in the shadow.
    const key = String(done['key']);
    const object = path.join(dc.s3.dir, dc.s3.bucket, key);
    const bytes = fs.statSync(object).size;
    const hwmMb = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
    if (bytes !== done['bytes'] || bytes === 0) throw new Error(`${arch}: S3 object ${key} has ${bytes} bytes, the agent reported ${String(done['bytes'])}`);
    const shadows = JSON.parse(fs.readFileSync(path.join(dc.stateDir, 'shadows.json'), 'utf8')) as { shadows: { thing: string; shadow?: string; state: { reported?: { snapshot?: { id?: string; status?: string } } } }[] };
    const reported = shadows.shadows.find((s) => s.thing === thing && s.shadow === dc.shadowName)?.state.reported?.snapshot;
    if (reported?.id !== id || reported.status !== 'uploaded') throw new Error(`${arch}: shadow reports ${JSON.stringify(reported)}, expected ${id} uploaded`);
    if (!fs.existsSync(path.join(appDir, 'localdata', 'state'))) throw new Error(`${arch}: the agent kept no state under localdata/state`);

    // A clean stop: SIGTERM, presence offline, exit 0 (systemd's stop).
    const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    const code = await exit;
    if (code !== 0) throw new Error(`${arch}: the agent exited with ${code} on SIGTERM, expected 0`);
    const flagError = /unrecognized flag.*|not allowed in NODE_OPTIONS.*/i.exec(stderr);
    if (flagError) throw new Error(`${arch}: node ${node.node} rejected a V8 flag (src/agent/runtime-tuning.ts or the launcher's NODE_OPTIONS): ${flagError[0]}`);
    const live = await checkPackageLive({ launcher, appDir, appName: APP_NAME, env: appEnv, dc, thing, viewer, label: arch });
    return { flavour: flavour.id, live, eapBytes: info.eapBytes, unpackedBytes, node: node.node, origin: node.origin, connectMs, roundtripMs, bytes, hwmMb };
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}

/**
 * The packaged executable updates itself in the gateway layout: the gateway tarball unpacked as
 * install.sh would (its launcher run through qemu-user, the only change), started again whenever it
 * exits (systemd's Restart=always), then `fleet update` with a gateway tarball of the next patch
 * version built the same way; the running executable downloads, verifies and switches releases, and
 * the new executable must connect, pass its self-check and report SUCCEEDED.
 */
async function testGatewayUpdate(flavour: Flavour, dc: DevcloudInfo, thing: string, packageDir: string, work: string): Promise<{ updateMs: number; version: string }> {
  const arch = flavour.arch;
  const target = TARGETS[arch];
  const info = JSON.parse(fs.readFileSync(path.join(packageDir, `build-info-${flavour.id}.json`), 'utf8')) as BuildInfo;
  const next = bumpPatch(info.version);
  const nextDir = path.join(work, arch, 'next-package');
  await buildPackages({ ...process.env, ARCH: arch, PACKAGE_DIR: nextDir, PACKAGE_VERSION: next });
  const nextInfo = JSON.parse(fs.readFileSync(path.join(nextDir, `build-info-${flavour.id}.json`), 'utf8')) as BuildInfo;
  if (!info.gatewayTarball || !nextInfo.gatewayTarball) throw new Error(`${flavour.id}: no gateway tarball was built`);
  const tarball = info.gatewayTarball;
  const nextTarball = nextInfo.gatewayTarball;

  const base = path.join(work, arch, 'gateway');
  const unpack = path.join(work, arch, 'gateway-unpack');
  fs.mkdirSync(unpack, { recursive: true });
  execFileSync('tar', ['xzf', tarball, '-C', unpack]);
  fs.renameSync(path.join(unpack, `${APP_NAME}-${info.version}`), base);
  for (const f of [LAUNCHER_NAME, ...LAZY_CHUNKS.map((c) => c.file)]) if (!fs.existsSync(path.join(base, f))) throw new Error(`${arch}: the gateway tarball has no ${f}`);
  fs.writeFileSync(path.join(base, LAUNCHER_NAME), launcherScript(APP_NAME, `${target.qemu} -L ${sysrootDir(target)}`, flavour.runtimeDefaults), { mode: 0o755 });
  const root = path.join(base, 'localdata');
  fs.mkdirSync(root, { mode: 0o700 });
  const site = JSON.parse(fs.readFileSync(dc.devices[thing]!.agentConfigPath, 'utf8')) as Record<string, unknown>;
  site['stateDir'] = 'localdata/state';
  site['schedule'] = { cron: '' };
  fs.writeFileSync(path.join(root, 'cloudcam.json'), JSON.stringify(site, null, 2), { mode: 0o600 });

  const lines: LogEvent[] = [];
  let stopping = false;
  let proc: ChildProcess | undefined;
  const launch = (): void => {
    proc = spawn(path.join(base, LAUNCHER_NAME), [], { cwd: os.tmpdir(), env: { PATH: '/usr/bin:/bin', CLOUDCAM_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
    readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        lines.push(JSON.parse(line.replace(/^<\d>/, '')) as LogEvent);
      } catch {
        // not an event line
      }
    });
    proc.once('exit', () => {
      if (!stopping) setTimeout(() => !stopping && launch(), 200);
    });
  };
  const waitFor = async (what: string, match: (e: LogEvent) => boolean, timeoutMs: number): Promise<void> => {
    const until = Date.now() + timeoutMs;
    while (!lines.some(match)) {
      if (Date.now() > until) throw new Error(`${arch} gateway: no ${what} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  launch();
  try {
    await waitFor(`agent ${info.version} connected`, (e) => e['msg'] === 'MQTT connected', CONNECT_TIMEOUT_MS);
    const { runFleetUpdate } = await import('../fleet/fleet-update.js');
    const out: string[] = [];
    const t0 = Date.now();
    const code = await runFleetUpdate({
      packageFile: nextTarball,
      things: [thing],
      all: false,
      thingPrefix: '',
      devcloudDir: dc.stateDir,
      timeoutMinutes: 30,
      allowDowngrade: false,
      wait: true,
      pollMs: 500,
      out: (l) => out.push(l),
    });
    const updateMs = Date.now() - t0;
    if (code !== 0) throw new Error(`${arch} gateway: the update to ${next} did not succeed:\n${out.join('\n')}`);
    await waitFor(`agent ${next} started`, (e) => e['event'] === 'agent.started' && e['version'] === next, 10_000);
    const current = fs.readFileSync(path.join(root, 'current'), 'utf8').trim();
    if (current !== next) throw new Error(`${arch} gateway: current release is ${current}, expected ${next}`);
    for (const { file } of LAZY_CHUNKS) {
      if (!fs.existsSync(path.join(root, 'releases', next, file))) throw new Error(`${arch} gateway: the update to ${next} did not bring ${file} next to its executable`);
    }
    return { updateMs, version: next };
  } finally {
    stopping = true;
    const p = proc;
    if (p && p.exitCode === null) {
      const exited = new Promise((resolve) => p.once('exit', resolve));
      p.kill('SIGTERM');
      await exited;
    }
  }
}

function bumpPatch(version: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) throw new Error(`cannot bump version ${version}`);
  return `${m[1]}.${m[2]}.${Number(m[3]) + 1}`;
}

async function main(): Promise<number> {
  const arches = parseArchList(process.env['ARCH'] || 'all');
  const packageDir = path.resolve(process.env['PACKAGE_DIR'] || path.join('build', 'package'));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cloudcam-test-package-'));
  const flavours = flavoursFor(arches).filter((f) => f.axisOs);
  const { info, proc } = await startDevcloud(path.join(work, 'devcloud'), flavours.length);
  const viewer = new PackageLiveViewer(info);
  const results: Result[] = [];
  let failed = false;
  try {
    for (const [i, flavour] of flavours.entries()) {
      const thing = `camera-${i + 1}`;
      try {
        const r = await testFlavour(flavour, info, thing, packageDir, work, viewer);
        results.push(r);
        console.log(`${flavour.id}: node ${r.node} (${r.origin} build) as its notes claim; first snapshot roundtrip OK (${r.bytes} bytes in ${r.roundtripMs} ms under emulation)`);
        console.log(`${flavour.id}: live view OK: a ${r.live.size} frame decoded in chromium ${(r.live.firstFrameMs / 1000).toFixed(1)} s after Live was asked (the account from \`cloudcam setup live\`; setup live to the restarted agent connected ${(r.live.restartMs / 1000).toFixed(1)} s)`);
        // A measuring run (TEST_PACKAGE_NODE_OPTIONS) compares first snapshots only.
        if (flavour.gateway && !process.env['TEST_PACKAGE_NODE_OPTIONS']) {
          const u = await testGatewayUpdate(flavour, info, thing, packageDir, work);
          console.log(`${flavour.id}: gateway self-update to ${u.version} OK (fleet update to SUCCEEDED in ${(u.updateMs / 1000).toFixed(1)} s under emulation)`);
        }
      } catch (err) {
        failed = true;
        console.error(`${flavour.id}: FAILED: ${(err as Error).message}`);
      }
    }
  } finally {
    await viewer.close();
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
    if (failed) process.stderr.write(`devcloud log:\n${fs.readFileSync(path.join(work, 'devcloud.log'), 'utf8').split('\n').slice(-30).join('\n')}\n`);
    fs.rmSync(work, { recursive: true, force: true });
  }
  const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;
  console.log('\npackage            .eap size  installed  node               connected (qemu)  first snapshot  peak RSS (qemu)  live first frame (qemu)');
  for (const r of results) {
    console.log(
      `${r.flavour.padEnd(18)} ${mb(r.eapBytes).padStart(9)}  ${mb(r.unpackedBytes).padStart(9)}  ${`${r.node} ${r.origin}`.padEnd(17)}  ${`${(r.connectMs / 1000).toFixed(1)} s`.padStart(16)}  ${`${r.roundtripMs} ms`.padStart(14)}  ${`${r.hwmMb.toFixed(0)} MB`.padStart(15)}  ${`${(r.live.firstFrameMs / 1000).toFixed(1)} s`.padStart(22)}`,
    );
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`test-package: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
