/**
 * The fault suite: the real agent as a child process against devcloud (loopback only), with faults
 * injected one kind after another. The same books are kept throughout (RequestLedger): every
 * request ends in exactly one final reported status, no key receives two objects, the agent never
 * exits unless told to, and its memory returns to its baseline.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_MOSQUITTO, startTestDevcloud, type TestDevcloud } from '../helpers/devcloud.js';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { RequestLedger } from '../helpers/request-ledger.js';
import type { SnapshotRequest } from '../../src/protocol/snapshot.js';
import { newRequestId, whyNotRequested } from '../../src/cloud/handler.js';

const thing = 'camera-1';
const BROKER_RESTARTS_IDLE = 10;
const BROKER_RESTARTS_UPLOADING = 10;

/** A tiny tmpfs as the state dir makes "full" and "read-only" real (needs root, as in CI). */
function tryMount(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('fault suite: agent process vs devcloud', { timeout: 90_000 }, () => {
  let t: TestDevcloud;
  let agent: AgentProcess;
  let proxy: FaultProxy;
  let ledger: RequestLedger;
  let stateDir: string;
  let mounted = false;
  const faults: Record<string, number> = {};
  const agents: AgentProcess[] = [];
  const count = (what: string, n = 1): void => void (faults[what] = (faults[what] ?? 0) + n);
  let baselineKb = 0;

  const env = (): Record<string, string> => ({
    CLOUDCAM_IOT_RECONNECT_MIN_MS: '50',
    CLOUDCAM_IOT_RECONNECT_MAX_MS: '400',
    CLOUDCAM_IOT_MQTT_VERSION: t.dc.broker.kind === 'mosquitto' ? '5' : '3.1.1',
    CLOUDCAM_STATE_DIR: stateDir,
    // Above what a 1080p capture takes on a loaded CI machine (a baseline request once failed there
    // with 1.5 s, most likely this timeout: its reason was not kept then), below the "camera
    // timeout" fault's 5 s delay.
    CLOUDCAM_SNAPSHOT_CAPTURE_TIMEOUT_MS: '3000',
    CLOUDCAM_SNAPSHOT_UPLOAD_TIMEOUT_MS: '3000',
    CLOUDCAM_SNAPSHOT_ALLOWED_UPLOAD_HOSTS: `${new URL(t.dc.info.s3.url).host},127.0.0.1:${proxy.port}`,
    CLOUDCAM_SNAPSHOT_INSECURE_HTTP_UPLOAD_HOSTS: `${new URL(t.dc.info.s3.url).host},127.0.0.1:${proxy.port}`,
  });
  const start = async (): Promise<void> => {
    agent = await spawnAgent(t.dc.info.devices[thing]!.agentConfigPath, env());
    agents.push(agent);
  };
  const received = (id: string): boolean => agents.some((a) => a.lines.some((l) => l['event'] === 'snapshot.received' && l['id'] === id));

  /** Asks through the cloud handler, as an operator would, once nothing else is pending. */
  const request = async (): Promise<SnapshotRequest> => {
    await settle();
    const r = await t.dc.handler.handle({ kind: 'snapshot', thing, reason: 'fault-suite' });
    if (r.action !== 'requested') throw new Error(whyNotRequested(r));
    ledger.add(r.request);
    return r.request;
  };
  /** A presigned request of our own (its own key), for URLs the handler would not write. */
  const presigned = async (url?: string): Promise<SnapshotRequest> => {
    await settle();
    const id = newRequestId(new Date());
    const s3 = new S3Client({ region: t.dc.info.region, endpoint: t.dc.info.s3.url, forcePathStyle: true, credentials: { accessKeyId: t.dc.info.s3.accessKeyId, secretAccessKey: t.dc.info.s3.secretAccessKey } });
    const post = await createPresignedPost(s3, {
      Bucket: t.dc.info.s3.bucket,
      Key: `${thing}/faults/${id}.jpg`,
      Conditions: [['content-length-range', 1, 5_000_000], ['eq', '$Content-Type', 'image/jpeg']],
      Fields: { 'Content-Type': 'image/jpeg' },
      Expires: 120,
    });
    s3.destroy();
    const req: SnapshotRequest = { id, url: url ?? post.url, fields: post.fields, expiresAt: new Date(Date.now() + 120_000).toISOString(), maxBytes: 5_000_000 };
    ledger.add(req);
    t.dc.store.update({ thing, shadow: t.dc.info.shadowName }, JSON.stringify({ state: { desired: { snapshot: req } } }));
    return req;
  };
  /** The agent's reconnect makes the cloud write a new request (presence online): wait for its report too. */
  async function settle(): Promise<void> {
    const pending = [...ledger.requests.keys()].filter((id) => !ledger.statuses.has(id) && !ledger.overwritten.has(id));
    await Promise.all(pending.map((id) => ledger.waitForStatus(id)));
  }

  beforeAll(async () => {
    t = await startTestDevcloud({ broker: HAS_MOSQUITTO ? 'mosquitto' : 'aedes' });
    proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(t.dc.info.s3.url).port) });
    stateDir = path.join(t.dir, 'agent-state');
    await fs.mkdir(stateDir, { recursive: true });
    mounted = tryMount(stateDir);
    ledger = new RequestLedger(t.dc, thing, received);
    await start();
  }, 60_000);

  afterAll(async () => {
    for (const a of agents) if (!a.unexpectedExit && a.child.exitCode === null) await a.stop();
    await proxy?.stop();
    if (mounted) execFileSync('umount', [stateDir]);
    if (process.env['FAULT_DUMP']) await fs.writeFile(process.env['FAULT_DUMP'], agents.flatMap((a) => a.lines.map((l) => JSON.stringify(l))).join('\n'));
    await t?.cleanup();
    // The figures the note reports.
    console.log(`fault suite: faults ${JSON.stringify(faults)}; ledger ${JSON.stringify(ledger?.summary())}`);
  }, 60_000);

  it('serves requests at baseline', async () => {
    for (let i = 0; i < 5; i++) {
      const { id } = await request();
      expect(await ledger.waitForStatus(id), ledger.errors.get(id)).toBe('uploaded');
    }
    await settle();
    baselineKb = agent.rssKb();
  });

  it(`survives the broker killed and restarted ${BROKER_RESTARTS_IDLE} times while idle`, async () => {
    for (let i = 0; i < BROKER_RESTARTS_IDLE; i++) {
      await settle();
      const online = ledger.nextCloudRequest();
      await t.dc.restartBroker({ kill: true });
      count('broker killed (idle)');
      // Back online: the cloud asks for a snapshot, and it is served.
      expect(await ledger.waitForStatus((await online).id)).toBe('uploaded');
    }
    expect(await ledger.waitForStatus((await request()).id)).toBe('uploaded');
    await settle();
  });

  it(`survives the broker killed ${BROKER_RESTARTS_UPLOADING} times during uploads`, async () => {
    for (let i = 0; i < BROKER_RESTARTS_UPLOADING; i++) {
      t.dc.s3.setFaults({ delayMs: 200 });
      const req = await request();
      const posting = new Promise<void>((resolve) => t.dc.s3.events.once('request', () => resolve()));
      await agent.waitForLog((l) => l['event'] === 'snapshot.received' && l['id'] === req.id);
      await posting; // the upload is on the wire
      const online = ledger.nextCloudRequest();
      await t.dc.restartBroker({ kill: true });
      count('broker killed (uploading)');
      t.dc.s3.setFaults({});
      expect(await ledger.waitForStatus(req.id)).toBe('uploaded');
      expect(await ledger.waitForStatus((await online).id)).toBe('uploaded');
    }
    await settle();
  });

  it('S3 500/503 then recovering: retried within the presign, uploaded once; a lasting outage fails once', async () => {
    for (const status of [503, 500] as const) {
      t.dc.s3.setFaults({ failNext: { status, count: 2 } });
      count(`S3 ${status} x2`);
      expect(await ledger.waitForStatus((await request()).id)).toBe('uploaded');
    }
    t.dc.s3.setFaults({ failNext: { status: 503, count: 50 } });
    count('S3 503 lasting');
    expect(await ledger.waitForStatus((await request()).id)).toBe('failed');
    t.dc.s3.setFaults({});
    expect(await ledger.waitForStatus((await request()).id)).toBe('uploaded');
  });

  it('camera slow or 503', async () => {
    const camera = t.dc.cameras.get(thing)!;
    camera.setFaults({ delayMs: 600 });
    count('camera slow');
    expect(await ledger.waitForStatus((await request()).id)).toBe('uploaded');
    camera.setFaults({ status: 503 });
    count('camera 503');
    expect(await ledger.waitForStatus((await request()).id)).toBe('failed');
    camera.setFaults({ delayMs: 5000 });
    count('camera timeout');
    expect(await ledger.waitForStatus((await request()).id)).toBe('failed');
    camera.setFaults({});
    expect(await ledger.waitForStatus((await request()).id)).toBe('uploaded');
  });

  it('TCP cut mid-upload: one final status (failed, not sent again), never two objects', async () => {
    // The agent sends the whole form, S3 gets only its first 4000 bytes, then the connection is cut:
    // the agent cannot know whether S3 got it all, so it reports failed and does not send it again
    // (at most once). A cut while the form is still being sent is retryable (s3-post unit tests).
    const via = `http://127.0.0.1:${proxy.port}/${t.dc.info.s3.bucket}`;
    proxy.arm({ kind: 'cut-request-after', bytes: 4000 });
    const cut = await presigned(via);
    expect(await ledger.waitForStatus(cut.id)).toBe('failed');
    expect(proxy.injected).toBe(1);
    expect(ledger.objects.get(cut.fields['key']!) ?? 0).toBe(0); // S3 never saw the whole form
    count('TCP cut mid-body');

    proxy.arm({ kind: 'drop-response' });
    const lost = await presigned(via);
    expect(await ledger.waitForStatus(lost.id)).toBe('failed');
    expect(proxy.injected).toBe(2);
    expect(ledger.objects.get(lost.fields['key']!)).toBe(1); // S3 has it; the agent did not send it again
    count('TCP answer lost');

    const clean = await presigned(via);
    expect(await ledger.waitForStatus(clean.id)).toBe('uploaded');
  });

  it('agent SIGKILLed mid-upload and restarted: that request fails once, nothing is uploaded twice', async () => {
    for (let i = 0; i < 3; i++) {
      t.dc.s3.setFaults({ delayMs: 1000 });
      const req = await request();
      const posting = new Promise<void>((resolve) => t.dc.s3.events.once('request', () => resolve()));
      await agent.waitForLog((l) => l['event'] === 'snapshot.received' && l['id'] === req.id);
      await posting;
      await agent.kill();
      count('agent SIGKILL mid-upload');
      t.dc.s3.setFaults({});
      await start();
      const status = await ledger.waitForStatus(req.id);
      expect(['failed', 'uploaded']).toContain(status);
      if (status === 'failed') expect(ledger.objects.get(req.fields['key']!) ?? 0).toBeLessThanOrEqual(1);
    }
    await settle();
  });

  it.runIf(process.getuid?.() === 0)('state dir full or read-only: reported failed, then served again', async () => {
    if (!mounted) throw new Error('mount -t tmpfs failed although running as root');
    const filler = path.join(stateDir, 'filler');
    // A journal write still in flight from an earlier request (a superseded report is journalled
    // without waiting) can free pages after a single fill; fill until statfs says nothing is left.
    await settle();
    for (;;) {
      const err = await fs.appendFile(filler, Buffer.alloc(64 * 1024)).catch((e: NodeJS.ErrnoException) => e);
      if (err === undefined) continue;
      expect(err.code).toBe('ENOSPC');
      if ((await fs.statfs(stateDir)).bavail === 0) break;
    }
    count('state dir full (ENOSPC)');
    const full = await request();
    expect(await ledger.waitForStatus(full.id)).toBe('failed');
    await fs.rm(filler);
    expect(await ledger.waitForStatus((await request()).id)).toBe('uploaded');

    execFileSync('mount', ['-o', 'remount,ro', stateDir]);
    count('state dir read-only (EROFS)');
    try {
      expect(await ledger.waitForStatus((await request()).id)).toBe('failed');
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', stateDir]);
    }
    expect(await ledger.waitForStatus((await request()).id)).toBe('uploaded');
    await settle();
  });

  it('the books balance: nothing lost, nothing uploaded twice, one status per request, no unexpected exit, memory back to baseline', async () => {
    await settle();
    const s = ledger.summary();
    expect(s.lost).toEqual([]);
    expect(s.inconsistent).toEqual([]);
    expect(s.duplicateUploads).toEqual([]);
    expect(s.uploadedWithoutObject).toEqual([]);
    expect(s.created).toBeGreaterThan(50);
    expect(agents.map((a) => a.unexpectedExit).filter(Boolean)).toEqual([]);
    // The last agent process ran every fault after the SIGKILLs; compare it after the same warm-up.
    const rss = agent.rssKb();
    console.log(`fault suite RSS: first agent baseline ${baselineKb} KB, last agent now ${rss} KB`);
    expect(rss - baselineKb).toBeLessThan(20 * 1024);
  });
});
