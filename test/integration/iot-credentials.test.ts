/**
 * devcloud's AWS IoT credentials provider against the agent's client (src/protocol/iot-credentials.ts).
 * What AWS answers, from the developer guide ("Authorizing direct calls to AWS services using AWS IoT
 * Core credential provider": mutual TLS, the thing name in x-amzn-iot-thingname must be attached to
 * the certificate) and the responses recorded against AWS in
 * awslabs/aws-iot-core-credential-provider-session-helper's development notes (403 "Invalid thing name
 * passed", 403 "Access Denied", 404 "Role alias does not exist", 200 {"credentials": {...}}).
 */
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import { DescribeSignalingChannelCommand, CreateSignalingChannelCommand, AccessDeniedException } from '@aws-sdk/client-kinesis-video';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialsProviderError, RoleCredentialsSource, fetchRoleCredentials, parseCredentialsAnswer, type CredentialsEndpoint } from '../../src/protocol/iot-credentials.js';
import { startLiveCloud, type LiveCloud } from '../helpers/live-cloud.js';

let cloud: LiveCloud;
let camera1: CredentialsEndpoint;

beforeAll(async () => {
  cloud = await startLiveCloud();
  const paths = cloud.pki.devices['camera-1']!;
  camera1 = {
    endpoint: cloud.credentials.url,
    roleAlias: cloud.credentials.roleAlias,
    thingName: 'camera-1',
    tls: { cert: await readFile(paths.certPath), key: await readFile(paths.keyPath), ca: cloud.ca },
  };
  const viewerApi = cloud.kvsClient();
  await viewerApi.send(new CreateSignalingChannelCommand({ ChannelName: 'cloudcam-camera-1' }));
  viewerApi.destroy();
});

afterAll(() => cloud.stop());

async function refusedWith(ask: CredentialsEndpoint): Promise<CredentialsProviderError> {
  const err = await fetchRoleCredentials(ask).then(
    () => new Error('credentials were issued'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CredentialsProviderError);
  return err as CredentialsProviderError;
}

describe('the credentials provider', () => {
  it('issues short-lived credentials to a device certificate for its own thing', async () => {
    const before = Date.now();
    const credentials = await fetchRoleCredentials(camera1);
    expect(credentials.accessKeyId).toMatch(/^ASIA/);
    expect(credentials.secretAccessKey.length).toBeGreaterThan(20);
    expect(credentials.sessionToken.length).toBeGreaterThan(20);
    // The role alias's default duration, 3600 s; `expiration` has whole seconds as AWS writes it.
    expect(credentials.expiration.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3600_000 - 1000);
    expect(credentials.expiration.getTime()).toBeLessThanOrEqual(Date.now() + 3600_000);
    // Secrets never reach devcloud's log.
    const logged = JSON.stringify(cloud.captured.lines);
    expect(logged).not.toContain(credentials.secretAccessKey);
    expect(logged).not.toContain(credentials.sessionToken);
  });

  it("refuses a thing name that is not the certificate's thing: 403 Invalid thing name passed", async () => {
    const err = await refusedWith({ ...camera1, thingName: 'camera-2' });
    expect(err.status).toBe(403);
    expect(err.message).toContain('Invalid thing name passed');
    expect(err.message).toContain('camera-2');
  });

  it('refuses an unknown role alias: 404 Role alias does not exist', async () => {
    const err = await refusedWith({ ...camera1, roleAlias: 'someone-elses-alias' });
    expect(err.status).toBe(404);
    expect(err.message).toContain('Role alias does not exist');
  });

  it("refuses the fleet's claim certificate (no thing, no iot:AssumeRoleWithCertificate): 403 Access Denied", async () => {
    const claim = { cert: await readFile(cloud.pki.claim.certPath), key: await readFile(cloud.pki.claim.keyPath), ca: cloud.ca };
    const err = await refusedWith({ ...camera1, tls: claim });
    expect(err.status).toBe(403);
    expect(err.message).toContain('Access Denied');
  });

  it('refuses a client without a certificate of the CA in the TLS handshake', async () => {
    const stranger = await fetchRoleCredentials({ ...camera1, tls: { cert: '', key: '', ca: cloud.ca } }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(stranger).toBeInstanceOf(Error);
    expect(stranger).not.toBeInstanceOf(CredentialsProviderError);
  });

  it("gives credentials without the thing-name header, which reach no channel (the role policy's ThingName is empty)", async () => {
    // The agent always sends the header; AWS still answers a request without it.
    const text = await new Promise<string>((resolve, reject) => {
      const req = https.request(new URL(`/role-aliases/${camera1.roleAlias}/credentials`, camera1.endpoint), { ...camera1.tls }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`status ${res.statusCode ?? 0}`))));
      });
      req.on('error', reject);
      req.end();
    });
    const credentials = parseCredentialsAnswer(200, text, camera1);
    const client = cloud.kvsClient(credentials);
    await expect(client.send(new DescribeSignalingChannelCommand({ ChannelName: 'cloudcam-camera-1' }))).rejects.toBeInstanceOf(AccessDeniedException);
    client.destroy();
  });
});

describe('RoleCredentialsSource', () => {
  it('keeps the credentials in memory, shares one fetch, and fetches anew before they expire', async () => {
    let clock = Date.now();
    let fetches = 0;
    const source = new RoleCredentialsSource(camera1, {
      now: () => clock,
      refreshBeforeMs: 5 * 60_000,
      fetch: (ask) => {
        fetches++;
        return fetchRoleCredentials(ask);
      },
    });
    const [a, b] = await Promise.all([source.get(), source.get()]);
    expect(fetches).toBe(1);
    expect(b).toBe(a);
    clock = a.expiration.getTime() - 6 * 60_000;
    expect(await source.get()).toBe(a);
    clock = a.expiration.getTime() - 4 * 60_000;
    const renewed = await source.get();
    expect(fetches).toBe(2);
    expect(renewed.accessKeyId).not.toBe(a.accessKeyId);
  });
});
