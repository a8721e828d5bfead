/**
 * Every HTTP listener of ours, as a table for the raw-socket fuzz (http-fuzz.test.ts). To fuzz one
 * more server, add an entry: `start()` brings it up on an ephemeral port and returns a `probe()` that
 * sends one well-formed request and throws unless it is served as it should be.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createCloudHandler } from '../../src/cloud/handler.js';
import { startCameraSimulator } from '../../src/devcloud/camera/simulator.js';
import { startControlApi } from '../../src/devcloud/control-api.js';
import { JobStore } from '../../src/devcloud/jobs/store.js';
import { startS3, type S3StandIn } from '../../src/devcloud/s3/server.js';
import { startDataPlaneApi } from '../../src/devcloud/shadow/rest-api.js';
import { ShadowStore } from '../../src/devcloud/shadow/store.js';
import { startIssuer } from '../../src/devcloud/oauth/issuer.js';
import { createLogger } from '../../src/lib/log.js';
import { startTestAgent, startTestDevcloud } from '../helpers/devcloud.js';

export interface RunningHttpServer {
  port: number;
  /** One well-formed request; throws unless the server answers it as it should. */
  probe(): Promise<void>;
  stop(): Promise<void>;
}

export interface HttpServerUnderTest {
  name: string;
  start(): Promise<RunningHttpServer>;
  /**
   * Requests that random paths and bodies seldom make (a route with a JSON body): the fuzz also sends
   * these, well-formed on the wire, each list about as often as the other.
   */
  focus?: FocusedRequest[][];
}

export interface FocusedRequest {
  method: string;
  target: string;
  body?: string;
}

const log = createLogger({ name: 'http-fuzz', level: 'silent' });
const CREDENTIALS = { accessKeyId: 'AKIDFUZZ', secretAccessKey: 'fuzz-secret' };
const REGION = 'us-east-1';
const BUCKET = 'cloudcam-fuzz';

function expectStatus(what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${what}: expected HTTP ${expected}, got ${actual}`);
}

/** CreateJob bodies for the control API's POST /jobs: the right shape with wrong types in each part. */
function createJobBodies(): string[] {
  const ids = ['"j-1"', '7', 'null', '"../x"', '"$next"', `"${'j'.repeat(65)}"`];
  const things = ['["camera-1"]', '"camera-1"', '[null]', '[{}]', '[]', 'null', '["a/b"]'];
  const documents = ['{"operation":"cloudcam.restart"}', '"text"', 'null', '[1]', '{"u":"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k}"}', '{"u":"${aws:iot:s3-presigned-url:"}'];
  const extras = ['', ',"presignedUrlConfig":null', ',"presignedUrlConfig":"x"', ',"presignedUrlConfig":{"roleArn":1,"expiresInSec":1e400}', ',"rollout":null', ',"rollout":{"maximumPerMinute":-1}', ',"abort":null', ',"abort":{"failedPercent":"x"}', ',"timeoutInMinutes":"5"'];
  const out: string[] = [];
  for (const id of ids) for (const t of things) for (const d of documents) for (const e of extras) out.push(`{"jobId":${id},"things":${t},"document":${d}${e}}`);
  return out;
}

/** An S3 stand-in in a temp dir, shared by the S3 and control-API entries. */
async function startTempS3(): Promise<{ s3: S3StandIn; stop: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudcam-fuzz-s3-'));
  const s3 = await startS3({ rootDir: dir, buckets: [BUCKET], credentials: [CREDENTIALS], region: REGION, log });
  return {
    s3,
    stop: async () => {
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const HTTP_SERVERS: HttpServerUnderTest[] = [
  {
    name: 'devcloud control API',
    async start() {
      const { s3, stop } = await startTempS3();
      const handler = createCloudHandler({ region: REGION, bucket: BUCKET, shadowName: 'cloudcam', expiresSeconds: 60, maxBytes: 1024, s3Endpoint: s3.url, iotDataEndpoint: 'http://127.0.0.1:9', credentials: CREDENTIALS });
      const control = await startControlApi({ cameras: new Map(), s3, handler, jobs: new JobStore(), log });
      return {
        port: Number(new URL(control.url).port),
        probe: async () => expectStatus('GET /health', (await fetch(`${control.url}/health`)).status, 200),
        stop: async () => {
          await control.stop();
          handler.destroy();
          await stop();
        },
      };
    },
  },
  {
    name: 'devcloud control API /jobs',
    focus: [
      createJobBodies().map((body) => ({ method: 'POST', target: '/jobs', body })),
      ['/jobs', '/jobs/', '/jobs/j-1', '/jobs/j-1/cancel', '/jobs/%E0%A4%A', '/jobs/%E0%A4%A/cancel', '/jobs/__proto__', '/jobs/__proto__/cancel', '/jobs//cancel', '/jobs/j-1/cancel/x', `/jobs/${'j'.repeat(5000)}`].flatMap((target) =>
        ['GET', 'POST', 'PUT', 'DELETE'].map((method) => ({ method, target, body: '{}' })),
      ),
    ],
    async start() {
      const { s3, stop } = await startTempS3();
      const handler = createCloudHandler({ region: REGION, bucket: BUCKET, shadowName: 'cloudcam', expiresSeconds: 60, maxBytes: 1024, s3Endpoint: s3.url, iotDataEndpoint: 'http://127.0.0.1:9', credentials: CREDENTIALS });
      const jobs = new JobStore({ thingExists: (thing) => thing === 'camera-1', presignableBuckets: ['b'] });
      const control = await startControlApi({ cameras: new Map(), s3, handler, jobs, log });
      let n = 0;
      return {
        port: Number(new URL(control.url).port),
        // A well-formed CreateJob, then DescribeJob of it.
        probe: async () => {
          const jobId = `probe-${++n}`;
          const created = await fetch(`${control.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jobId, things: ['camera-1'], document: { operation: 'cloudcam.restart' } }) });
          expectStatus('POST /jobs', created.status, 201);
          expectStatus('GET /jobs/{id}', (await fetch(`${control.url}/jobs/${jobId}`)).status, 200);
        },
        stop: async () => {
          jobs.stop();
          await control.stop();
          handler.destroy();
          await stop();
        },
      };
    },
  },
  {
    name: 'devcloud shadow REST API',
    async start() {
      const api = await startDataPlaneApi({ store: new ShadowStore(), credentials: CREDENTIALS, log });
      const client = new IoTDataPlaneClient({ endpoint: api.url, region: REGION, credentials: CREDENTIALS, maxAttempts: 1 });
      await client.send(new UpdateThingShadowCommand({ thingName: 'camera-1', shadowName: 'cloudcam', payload: Buffer.from('{"state":{"reported":{"ok":true}}}') }));
      return {
        port: api.port,
        probe: async () => {
          const got = await client.send(new GetThingShadowCommand({ thingName: 'camera-1', shadowName: 'cloudcam' }));
          expectStatus('GetThingShadow', got.$metadata.httpStatusCode ?? 0, 200);
        },
        stop: async () => {
          client.destroy();
          await api.stop();
        },
      };
    },
  },
  {
    name: 'devcloud S3 stand-in',
    async start() {
      const { s3, stop } = await startTempS3();
      const client = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: REGION, credentials: CREDENTIALS, maxAttempts: 1 });
      return {
        port: s3.port,
        probe: async () => expectStatus('ListObjectsV2', (await client.send(new ListObjectsV2Command({ Bucket: BUCKET }))).$metadata.httpStatusCode ?? 0, 200),
        stop: async () => {
          client.destroy();
          await stop();
        },
      };
    },
  },
  {
    name: 'devcloud camera simulator',
    async start() {
      const camera = await startCameraSimulator({ name: 'fuzz', username: 'root', password: 'fuzz-password', log });
      return {
        port: camera.port,
        // Without credentials: a digest challenge is the right answer to a well-formed request.
        probe: async () => expectStatus('GET basicdeviceinfo.cgi', (await fetch(`${camera.url}/axis-cgi/basicdeviceinfo.cgi`)).status, 401),
        stop: () => camera.stop(),
      };
    },
  },
  {
    name: 'devcloud OAuth issuer (the viewer sign-in stand-in)',
    async start() {
      const issuer = await startIssuer({ clientId: 'fuzz-client', redirectUris: () => ['http://127.0.0.1:9/callback'], username: 'viewer', password: 'fuzz-password', log });
      return {
        port: Number(new URL(issuer.url).port),
        probe: async () => expectStatus('GET jwks', (await fetch(issuer.jwksUri)).status, 200),
        stop: () => issuer.stop(),
      };
    },
  },
  {
    name: 'devcloud viewer (app, API, share links)',
    async start() {
      const t = await startTestDevcloud({ broker: 'aedes' });
      const { url } = t.dc.viewer;
      return {
        port: Number(new URL(url).port),
        // Without a token: the API's 401 is the right answer to a well-formed request.
        probe: async () => expectStatus('GET /api/cameras', (await fetch(`${url}/api/cameras`)).status, 401),
        stop: () => t.cleanup(),
      };
    },
  },
  {
    name: "the agent's local API",
    async start() {
      const t = await startTestDevcloud({ broker: 'aedes' });
      const agent = await startTestAgent(t.dc, 'camera-1');
      const url = agent.agent.localApiUrl();
      if (url === undefined) throw new Error('the agent local API is not listening');
      return {
        port: Number(new URL(url).port),
        probe: async () => expectStatus('GET /status', (await fetch(`${url}/status`)).status, 200),
        stop: async () => {
          await agent.stop();
          await t.cleanup();
        },
      };
    },
  },
];
