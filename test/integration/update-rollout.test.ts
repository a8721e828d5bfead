/**
 * cloudcam.update end to end (docs/update.md): devcloud's Jobs service and release bucket, the
 * operator's `fleet update` (in process), and cameras in the gateway layout as real processes under
 * a Restart=always supervisor, each with the launcher, a base release (1.0.0) and its own state.
 * The new build is the same agent bundle built as 1.1.0 (test/helpers/gateway-camera.ts says why).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentBundle, gatewayTarball, startGatewayCamera, type GatewayCamera, mqttConnected, startedAs } from '../helpers/gateway-camera.js';
import { MQTT_MATRIX, startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { runFleetUpdate } from '../../src/fleet/fleet-update.js';
import { devcloudJobsAdmin } from '../../src/cloud/jobs-admin.js';

const CAMERAS = Number(process.env['UPDATE_ROLLOUT_CAMERAS'] ?? 20);

let work: string;
let bundle100: string;
let bundle110: string;
beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'update-e2e-'));
  bundle100 = await agentBundle(work, '1.0.0');
  bundle110 = await agentBundle(work, '1.1.0');
}, 60_000);

describe.each(MQTT_MATRIX)('update rollout ($label)', ({ broker }) => {
  let t: TestDevcloud;
  let cams: GatewayCamera[] = [];
  beforeAll(async () => {
    t = await startTestDevcloud({ broker, cameras: CAMERAS, jobsMinuteMs: 2000 });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(cams.map((c) => c.stop()));
    await t?.cleanup();
  });

  it(`updates ${CAMERAS} cameras to a new build with one rollout: all SUCCEEDED and running it`, async () => {
    const things = Object.keys(t.dc.info.devices).sort();
    cams = await Promise.all(things.map((thing) => startGatewayCamera({ thing, agentConfigPath: t.dc.info.devices[thing]!.agentConfigPath, baseBundle: bundle100 })));
    await Promise.all(cams.map((c) => c.waitFor(mqttConnected, 60_000)));
    await Promise.all(cams.map((c) => c.waitFor(startedAs('1.0.0'), 5_000)));
    const pkg = gatewayTarball(work, '1.1.0', bundle110);

    const out: string[] = [];
    const t0 = Date.now();
    const code = await runFleetUpdate({
      packageFile: pkg,
      things: [],
      all: true,
      thingPrefix: '',
      devcloudDir: t.dir,
      rolloutPerMinute: 10, // a devcloud minute is 2 s here: 20 cameras start over ~4 s
      timeoutMinutes: 30,
      allowDowngrade: false,
      wait: true,
      pollMs: 200,
      out: (l) => out.push(l),
    });
    const totalMs = Date.now() - t0;
    expect(code, out.join('\n')).toBe(0);
    for (const c of cams) {
      expect(c.current()).toBe('1.1.0');
      await c.waitFor(startedAs('1.1.0'), 5_000);
      const last = [...c.lines].reverse().find((l) => l['event'] === 'agent.started');
      expect(last?.['version']).toBe('1.1.0');
    }
    const jobId = out.find((l) => l.startsWith('job '))!.split(' ')[1]!;
    const d = await (await devcloudJobsAdmin(t.dir)).describeJob(jobId);
    const confirm = d.executions.map((e) => Number(e.statusDetails?.['secondsToConfirm'] ?? NaN));
    console.log(`[update-rollout ${broker}] ${CAMERAS} cameras: all SUCCEEDED ${(totalMs / 1000).toFixed(1)} s after fleet update started; seconds from install to confirmed: min ${Math.min(...confirm)} max ${Math.max(...confirm)}`);
  }, 240_000);
});
