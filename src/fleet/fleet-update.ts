/**
 * `cloudcam fleet update` (docs/update.md): sign the package, upload it to the release bucket,
 * create the cloudcam.update job, and with --wait follow it until every camera finished.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { JobsAdmin, JobDescription } from '../cloud/jobs-admin.js';
import { terminalSafe } from '../lib/terminal-text.js';
import { TERMINAL_STATUSES } from '../protocol/jobs.js';
import { KEY_ID_PATTERN } from '../protocol/update-document.js';
import { packageFacts, releaseDocument, releaseJobId } from './release-document.js';

export interface FleetUpdateOptions {
  packageFile: string;
  things: string[];
  all: boolean;
  thingPrefix: string;
  devcloudDir?: string;
  signingKeyFile?: string;
  keyId?: string;
  rolloutPerMinute?: number;
  abort?: { failedPercent: number; minExecuted: number | undefined };
  timeoutMinutes: number;
  version?: string;
  architecture?: string;
  allowDowngrade: boolean;
  releaseBucket?: string;
  wait: boolean;
  out: (line: string) => void;
  /** How often --wait asks for the job's state. */
  pollMs?: number;
}

async function signingKey(o: FleetUpdateOptions): Promise<{ pem: string; keyId: string }> {
  if (o.signingKeyFile) {
    const pem = await readFile(o.signingKeyFile, 'utf8').catch((err: unknown) => {
      throw new Error(`cannot read the signing key ${o.signingKeyFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    });
    const keyId = o.keyId ?? path.basename(o.signingKeyFile).replace(/\.[^.]*$/, '');
    if (!KEY_ID_PATTERN.test(keyId)) throw new Error(`the keyId "${keyId}" (from the key's file name) is not 1-64 of [a-zA-Z0-9._-]: pass --key-id`);
    return { pem, keyId };
  }
  if (!o.devcloudDir) throw new Error('--signing-key FILE is required outside devcloud: the release private key whose public key the cameras ship in certs/release-keys/');
  const { readDevReleaseKey } = await import('../devcloud/release-key.js');
  const dev = await readDevReleaseKey(o.devcloudDir);
  return { pem: dev.privatePem, keyId: o.keyId ?? dev.keyId };
}

async function targetThings(o: FleetUpdateOptions): Promise<string[]> {
  if (!o.all) return [...new Set(o.things)];
  if (o.devcloudDir) {
    const { readDevcloudInfo } = await import('../devcloud/info.js');
    return Object.keys((await readDevcloudInfo(o.devcloudDir)).devices).sort();
  }
  const { IoTClient, ListThingsCommand } = await import('@aws-sdk/client-iot');
  const iot = new IoTClient({});
  const names: string[] = [];
  try {
    let nextToken: string | undefined;
    do {
      const page = await iot.send(new ListThingsCommand({ maxResults: 250, ...(nextToken ? { nextToken } : {}) }));
      for (const t of page.things ?? []) if (t.thingName?.startsWith(o.thingPrefix)) names.push(t.thingName);
      nextToken = page.nextToken;
    } while (nextToken);
  } finally {
    iot.destroy();
  }
  return names.sort();
}

export async function runFleetUpdate(o: FleetUpdateOptions): Promise<number> {
  const bytes = await readFile(o.packageFile).catch((err: unknown) => {
    throw new Error(`cannot read the package ${o.packageFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  });
  const facts = packageFacts(o.packageFile, bytes, { ...(o.version ? { version: o.version } : {}), ...(o.architecture ? { architecture: o.architecture } : {}) });
  const key = await signingKey(o);
  const things = await targetThings(o);
  if (things.length === 0) throw new Error(o.all ? 'no cameras found for --all' : 'no cameras named');

  const { uploadRelease } = await import('../cloud/releases.js');
  const objectKey = `releases/${facts.version}/${facts.architecture}/${path.basename(o.packageFile)}`;
  let target: Parameters<typeof uploadRelease>[0];
  if (o.devcloudDir) target = { devcloudDir: o.devcloudDir };
  else if (o.releaseBucket) target = { bucket: o.releaseBucket };
  else throw new Error('no release bucket: pass --release-bucket (stack output ReleaseBucket) or set CLOUDCAM_RELEASE_BUCKET');
  const uploaded = await uploadRelease(target, objectKey, bytes);
  const document = releaseDocument({ bytes, facts, url: uploaded.placeholder, signingKeyPem: key.pem, keyId: key.keyId, allowDowngrade: o.allowDowngrade });
  o.out(`package ${path.basename(o.packageFile)}: ${facts.version} ${facts.architecture}, ${bytes.length} bytes, sha256 ${document.package.sha256}, signed by ${key.keyId}`);
  o.out(`uploaded to s3://${uploaded.bucket}/${uploaded.key}`);

  const admin = await jobsAdmin(o);
  const jobId = releaseJobId(facts.version, facts.architecture);
  await admin.createJob({
    jobId,
    things,
    document,
    presignedUrlConfig: { expiresInSec: 3600 },
    timeoutInMinutes: o.timeoutMinutes,
    ...(o.rolloutPerMinute ? { rollout: { maximumPerMinute: o.rolloutPerMinute } } : {}),
    ...(o.abort ? { abort: { failedPercent: o.abort.failedPercent, minNumberOfExecutedThings: o.abort.minExecuted ?? Math.min(10, things.length) } } : {}),
  });
  o.out(`job ${jobId} created for ${things.length} camera(s)${o.rolloutPerMinute ? `, at most ${o.rolloutPerMinute} per minute` : ''}`);
  if (!o.wait) {
    o.out(`each camera's status: cloudcam jobs describe ${jobId}${o.devcloudDir ? ` --devcloud ${o.devcloudDir}` : ''}`);
    return 0;
  }
  const final = await followJob(admin, jobId, things, o.out, o.pollMs ?? 1000);
  const ok = things.every((t) => final.executions.find((e) => e.thingName === t)?.status === 'SUCCEEDED');
  return ok ? 0 : 1;
}

async function jobsAdmin(o: FleetUpdateOptions): Promise<JobsAdmin> {
  const admin = await import('../cloud/jobs-admin.js');
  return o.devcloudDir ? admin.devcloudJobsAdmin(o.devcloudDir) : admin.awsJobsAdmin({});
}

/** Prints each camera's status as it changes, until all of `things` ended (or the job did). */
export async function followJob(admin: JobsAdmin, jobId: string, things: string[], out: (line: string) => void, pollMs: number): Promise<JobDescription> {
  const seen = new Map<string, string>();
  const started = Date.now();
  for (;;) {
    const d = await admin.describeJob(jobId);
    for (const e of d.executions) {
      // stage and reason are the device's words: printed escaped, they cannot drive the terminal.
      const line = `${e.status}${e.statusDetails?.['stage'] ? ` (${terminalSafe(e.statusDetails['stage'])})` : ''}`;
      if (seen.get(e.thingName) === line) continue;
      seen.set(e.thingName, line);
      const reason = e.statusDetails?.['reason'] ? `: ${terminalSafe(e.statusDetails['reason'])}` : '';
      out(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${terminalSafe(e.thingName)}  ${line}${reason}`);
    }
    const ended = things.every((t) => {
      const e = d.executions.find((x) => x.thingName === t);
      return e !== undefined && TERMINAL_STATUSES.has(e.status);
    });
    if (ended || d.status === 'CANCELED' || d.status === 'COMPLETED') {
      const count = (s: string): number => d.executions.filter((e) => e.status === s).length;
      out(`job ${jobId} ${d.status}: ${count('SUCCEEDED')} succeeded, ${count('FAILED')} failed, ${count('REJECTED')} rejected, ${count('TIMED_OUT')} timed out, ${things.length - d.executions.length} not started`);
      return d;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
