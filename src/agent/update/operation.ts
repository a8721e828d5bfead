/**
 * The `cloudcam.update` job operation (docs/update.md): check the document, download, verify, then
 * hand over to the new version; the new version's resume reports the outcome.
 *
 *   run:    parse → refuse (architecture, downgrade, size, untrusted key) → the signature over the
 *           document's claims (no download for an unsigned one) → download (bounded) →
 *           verify size, SHA-256, signature → record pending → install → HANDED_OVER
 *           (gateway: exit, the service manager starts the new release; ACAP: the camera restarts the app)
 *   resume: rolled back? FAILED with the reason · new version running? self-check → SUCCEEDED
 *           (or roll back) · old version still running? FAILED
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';
import type { Logger } from 'pino';
import type { JobOperation, JobOutcome, JobRun } from '../features/jobs/operation.js';
import type { StatusDetails } from '../../protocol/jobs.js';
import { JOBS_LIMITS } from '../../protocol/jobs.js';
import { parseUpdateDocument, UPDATE_OPERATION, versionProblem, type UpdateArchitecture, type UpdateDocument } from '../../protocol/update-document.js';
import type { ReleaseKeys } from '../../protocol/release-signature.js';
import type { UploadTargetPolicy } from '../upload-target.js';
import { downloadPackage } from './download.js';
import { verifyClaims, verifyPackage } from './verify.js';
import type { Installer } from './installer.js';
import type { UpdateRecords } from './records.js';
import type { UpdateWatch } from './rollback-watch.js';

export interface UpdateDeps {
  runningVersion: string;
  /** The running agent's architecture in the documents' terms. */
  architecture: UpdateArchitecture | undefined;
  keys: ReleaseKeys;
  /** undefined: not started from an installed package (no ACAP manifest, no gateway launcher). */
  installer: Installer | undefined;
  records: UpdateRecords;
  watch: UpdateWatch;
  policy: UploadTargetPolicy;
  maxPackageBytes: number;
  downloadTimeoutMs: number;
  connectBoundMs: number;
  maxStarts: number;
  /** What is wrong with the running agent now (undefined: healthy); called once connected. */
  selfCheck(signal: AbortSignal): Promise<string | undefined>;
  /** Ends this process so the service manager starts the release now in place. */
  restart: (reason: string) => void;
  log: Logger;
  now?: () => number;
}

const MAX_VALUE = JOBS_LIMITS.statusDetailsValueMaxLength;
const clip = (s: string): string => (s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s || '-');

/**
 * A step timeout that outlasts a stage bounded by `ms`, with 5 minutes for a restart and the report
 * (a rollback at the connect bound must still end FAILED with its reason, not TIMED_OUT).
 */
export function stepMinutes(ms: number): number {
  return Math.min(JOBS_LIMITS.stepTimeoutMinutes.max, Math.max(JOBS_LIMITS.stepTimeoutMinutes.min, Math.ceil(ms / 60_000) + 5));
}

function details(stage: string, fields: Record<string, string | number | undefined>): StatusDetails {
  const out: StatusDetails = { stage };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') out[k] = clip(String(v));
  return out;
}

export function createUpdateOperation(deps: UpdateDeps): JobOperation {
  const now = deps.now ?? Date.now;
  const { log, records } = deps;

  const refuse = (status: 'REJECTED' | 'FAILED', stage: string, reason: string, extra: Record<string, string | undefined> = {}): JobOutcome => {
    log.warn({ event: 'update.refused', status, stage, reason }, `update ${status === 'REJECTED' ? 'rejected' : 'failed'}: ${reason}`);
    return { status, details: details(stage, { reason, ...extra }) };
  };

  /** Why this agent will not even download the package, or undefined. */
  function precheck(doc: UpdateDocument): string | undefined {
    if (!deps.installer) return 'this agent was not started from an installed package (no ACAP manifest, no gateway launcher): update it by hand';
    if (doc.architecture !== deps.architecture) return `the package is for ${doc.architecture}, this agent runs on ${deps.architecture ?? process.arch}`;
    const versionIssue = versionProblem(doc, deps.runningVersion);
    if (versionIssue) return versionIssue;
    if (doc.package.size > deps.maxPackageBytes) return `the package has ${doc.package.size} bytes, more than update.maxPackageBytes (${deps.maxPackageBytes})`;
    if (!deps.keys.has(doc.package.keyId)) {
      const known = [...deps.keys.keys()];
      return `the package is signed with release key "${doc.package.keyId}", which this agent does not trust (${known.length ? `trusted: ${known.join(', ')}` : 'no release keys are installed'})`;
    }
    return undefined;
  }

  async function run(job: JobRun): Promise<JobOutcome> {
    let doc: UpdateDocument;
    try {
      doc = parseUpdateDocument(job.document, 'delivered');
    } catch (err) {
      return refuse('REJECTED', 'checking', (err as Error).message);
    }
    const ids = { version: doc.version, from: deps.runningVersion };
    if (deps.installer && doc.version === deps.runningVersion && doc.architecture === deps.architecture) {
      return { status: 'SUCCEEDED', details: details('confirmed', { ...ids, note: `version ${doc.version} is already running` }) };
    }
    const problem = precheck(doc);
    if (problem) return refuse('REJECTED', 'checking', problem, ids);
    try {
      verifyClaims(doc, deps.keys);
    } catch (err) {
      return refuse('FAILED', 'verifying', (err as Error).message, ids);
    }
    const installer = deps.installer!;

    // Emptied first: a download cut off by a kill or power loss is not removed by its own `finally`,
    // and each such leftover of another package would keep up to maxPackageBytes of the disk.
    const workDir = path.join(records.dir, 'download');
    await rm(workDir, { recursive: true, force: true });
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    const file = path.join(workDir, `${doc.package.sha256}.pkg`);
    const started = now();
    try {
      // The step timeout (jobs.stepTimeoutMinutes from start-next) is renewed for what each stage may take.
      await job.progress(details('downloading', { ...ids, bytes: doc.package.size }), stepMinutes(deps.downloadTimeoutMs));
      let got;
      try {
        got = await downloadPackage({ url: doc.package.url, size: doc.package.size, file, policy: deps.policy, signal: job.signal, timeoutMs: deps.downloadTimeoutMs });
        verifyPackage(doc, got, deps.keys);
      } catch (err) {
        return refuse('FAILED', 'verifying', (err as Error).message, ids);
      }
      const downloadMs = now() - started;
      log.info({ event: 'update.verified', jobId: job.jobId, version: doc.version, bytes: got.bytes, ms: downloadMs }, `update ${doc.version} downloaded and verified (${got.bytes} bytes in ${downloadMs} ms)`);

      const previous = await installer.previous(deps.runningVersion);
      const installedAt = Math.floor(now() / 1000);
      await records.writePending({
        jobId: job.jobId,
        version: doc.version,
        from: deps.runningVersion,
        previous,
        installedAt,
        deadline: installedAt + Math.ceil(deps.connectBoundMs / 1000),
        maxStarts: deps.maxStarts,
      });
      const handedOver = details('installed', { ...ids, layout: installer.kind, installedAt: String(installedAt), downloadMs: String(downloadMs) });
      // Said before the install: on a camera upload.cgi may end this process before it answers.
      await job.progress(details('installing', { ...ids, layout: installer.kind, installedAt: String(installedAt), downloadMs: String(downloadMs) }), stepMinutes(deps.connectBoundMs));
      try {
        await installer.install(file, doc.version, previous);
      } catch (err) {
        await records.clearPending();
        return refuse('FAILED', 'installing', `the install did not complete, the running version is unchanged: ${(err as Error).message}`, ids);
      }
      log.info({ event: 'update.installed', jobId: job.jobId, version: doc.version, layout: installer.kind }, `update ${doc.version} installed; handing over to it`);
      await job.progress(handedOver, stepMinutes(deps.connectBoundMs)).catch((err: unknown) => log.warn({ event: 'update.progress-failed', err: (err as Error).message }, 'could not report the install; the new version reports the outcome'));
      if (installer.exitsToSwitch) deps.restart(`update to ${doc.version} installed`);
      return { status: 'HANDED_OVER', details: handedOver };
    } finally {
      await rm(file, { force: true });
    }
  }

  async function resume(job: JobRun): Promise<JobOutcome> {
    let target = job.statusDetails['version'];
    try {
      target = parseUpdateDocument(job.document, 'delivered').version;
    } catch {
      // The document is what run() accepted; statusDetails names the version when it cannot be read now.
    }
    const ids = { version: target, from: job.statusDetails['from'], running: deps.runningVersion };
    const rolledBack = await records.rolledBack();
    if (rolledBack && rolledBack.jobId === job.jobId) {
      await records.clearRolledBack();
      return refuse('FAILED', 'rolled-back', rolledBack.reason, ids);
    }
    if (!target || !semver.valid(target)) return refuse('FAILED', 'resuming', 'the execution names no version to check', ids);
    const stage = job.statusDetails['stage'];
    if (stage === undefined || stage === 'downloading') {
      return refuse('FAILED', 'resuming', `the agent restarted before the install (stage ${stage ?? 'none'}): nothing was installed; create a new job to try again`, ids);
    }
    if (target !== deps.runningVersion) {
      return refuse('FAILED', 'resuming', `version ${deps.runningVersion} is running after the install of ${target}: the new version did not take over`, ids);
    }
    const pending = deps.watch.pending;
    if (pending?.jobId === job.jobId) {
      const problem = await deps.selfCheck(job.signal);
      if (problem) {
        const rolled = await deps.watch.rollback(`the new version's self-check failed: ${problem}`);
        if (!rolled.ok) {
          // Nothing to go back to (e.g. a camera whose running version was installed by hand): this version stays.
          await deps.watch.confirm();
          return refuse('FAILED', 'self-check', `the new version's self-check failed (${problem}) and it cannot be rolled back: ${rolled.error}`, ids);
        }
        return { status: 'HANDED_OVER', details: details('rolling-back', { ...ids, reason: problem }) };
      }
      await deps.watch.confirm();
      const seconds = Math.max(0, Math.floor(now() / 1000) - pending.installedAt);
      log.info({ event: 'update.confirmed', jobId: job.jobId, version: target, seconds }, `update to ${target} confirmed ${seconds} s after its install`);
      return { status: 'SUCCEEDED', details: details('confirmed', { ...ids, secondsToConfirm: String(seconds) }) };
    }
    return { status: 'SUCCEEDED', details: details('confirmed', ids) };
  }

  return { name: UPDATE_OPERATION, run, resume };
}
