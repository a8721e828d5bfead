/**
 * The data-plane REST API against the real @aws-sdk/client-iot-data-plane: if the SDK parses our
 * answers and maps our errors to its typed exceptions, a cloud handler will behave the same here and
 * against AWS.
 */
import {
  ConflictException,
  DeleteThingShadowCommand,
  ForbiddenException,
  GetThingShadowCommand,
  InvalidRequestException,
  IoTDataPlaneClient,
  ListNamedShadowsForThingCommand,
  MethodNotAllowedException,
  RequestEntityTooLargeException,
  ResourceNotFoundException,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDevcloudInfo } from '../../src/devcloud/info.js';
import { startTestDevcloud } from '../helpers/devcloud.js';
import { ShadowStore, type UpdateResult } from '../../src/devcloud/shadow/store.js';
import { startDataPlaneApi, type DataPlaneApi } from '../../src/devcloud/shadow/rest-api.js';
import type { ShadowKey } from '../../src/devcloud/shadow/topics.js';

const CREDENTIALS = { accessKeyId: 'AKIDDEVCLOUD', secretAccessKey: 'devcloud-secret' };

let store: ShadowStore;
let api: DataPlaneApi;
let client: IoTDataPlaneClient;

function sdkClient(credentials = CREDENTIALS): IoTDataPlaneClient {
  return new IoTDataPlaneClient({ endpoint: api.url, region: 'us-east-1', credentials, maxAttempts: 1 });
}

function json(payload: Uint8Array | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(payload ?? new Uint8Array()).toString('utf8')) as Record<string, unknown>;
}

function body(doc: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(doc));
}

beforeAll(async () => {
  store = new ShadowStore();
  api = await startDataPlaneApi({ store, credentials: CREDENTIALS });
  client = sdkClient();
});

afterAll(async () => {
  client.destroy();
  await api.stop();
});

describe('shadow REST API with the AWS SDK', () => {
  it('updates, gets and deletes a named shadow', async () => {
    const updated = await client.send(
      new UpdateThingShadowCommand({ thingName: 'cam-rest', shadowName: 'cloudcam', payload: body({ state: { desired: { mode: 'on' } }, clientToken: 'r1' }) }),
    );
    const accepted = json(updated.payload);
    expect(accepted).toMatchObject({ state: { desired: { mode: 'on' } }, version: 1, clientToken: 'r1' });
    expect(typeof accepted.timestamp).toBe('number');

    const got = json((await client.send(new GetThingShadowCommand({ thingName: 'cam-rest', shadowName: 'cloudcam' }))).payload);
    expect(got).toMatchObject({ state: { desired: { mode: 'on' }, delta: { mode: 'on' } }, version: 1 });

    const deleted = json((await client.send(new DeleteThingShadowCommand({ thingName: 'cam-rest', shadowName: 'cloudcam' }))).payload);
    expect(deleted).toEqual({ version: 1, timestamp: expect.any(Number) as number });

    await expect(client.send(new GetThingShadowCommand({ thingName: 'cam-rest', shadowName: 'cloudcam' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it('serves the classic shadow separately from named ones', async () => {
    await client.send(new UpdateThingShadowCommand({ thingName: 'cam-classic', payload: body({ state: { reported: { a: 1 } } }) }));
    const got = json((await client.send(new GetThingShadowCommand({ thingName: 'cam-classic' }))).payload);
    expect(got).toMatchObject({ state: { reported: { a: 1 } }, version: 1 });
    expect(store.get({ thing: 'cam-classic' }).state).toEqual({ reported: { a: 1 } });
    await expect(client.send(new GetThingShadowCommand({ thingName: 'cam-classic', shadowName: 'other' }))).rejects.toThrow(
      "No shadow exists with name: 'cam-classic~other'",
    );
  });

  it('emits the store event for a REST update, so MQTT subscribers can get the delta', async () => {
    const seen: [ShadowKey, UpdateResult][] = [];
    const listener = (key: ShadowKey, result: UpdateResult): void => {
      seen.push([key, result]);
    };
    store.on('updated', listener);
    await client.send(new UpdateThingShadowCommand({ thingName: 'cam-evt', shadowName: 'cloudcam', payload: body({ state: { desired: { x: 1 } } }) }));
    store.off('updated', listener);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.[0]).toEqual({ thing: 'cam-evt', shadow: 'cloudcam' });
    expect(seen[0]?.[1].delta?.state).toEqual({ x: 1 });
  });

  it('lists named shadows with paging', async () => {
    for (const name of ['a', 'b', 'c']) {
      await client.send(new UpdateThingShadowCommand({ thingName: 'cam-list', shadowName: name, payload: body({ state: { reported: { n: name } } }) }));
    }
    await client.send(new UpdateThingShadowCommand({ thingName: 'cam-list', payload: body({ state: { reported: { classic: true } } }) }));
    const first = await client.send(new ListNamedShadowsForThingCommand({ thingName: 'cam-list', pageSize: 2 }));
    expect(first.results).toEqual(['a', 'b']);
    expect(first.nextToken).toBeTypeOf('string');
    expect(first.timestamp).toBeTypeOf('number');
    const second = await client.send(new ListNamedShadowsForThingCommand({ thingName: 'cam-list', pageSize: 2, nextToken: first.nextToken }));
    expect(second.results).toEqual(['c']);
    expect(second.nextToken).toBeUndefined();
    const none = await client.send(new ListNamedShadowsForThingCommand({ thingName: 'nobody' }));
    expect(none.results).toEqual([]);
  });

  it('surfaces a version conflict as ConflictException', async () => {
    await client.send(new UpdateThingShadowCommand({ thingName: 'cam-409', payload: body({ state: { reported: { a: 1 } } }) }));
    const err: unknown = await client
      .send(new UpdateThingShadowCommand({ thingName: 'cam-409', payload: body({ state: { reported: { a: 2 } }, version: 7 }) }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictException);
    expect((err as ConflictException).message).toBe('Version conflict');
    expect((err as ConflictException).$metadata.httpStatusCode).toBe(409);
  });

  it('surfaces an oversized state as RequestEntityTooLargeException', async () => {
    const err: unknown = await client
      .send(new UpdateThingShadowCommand({ thingName: 'cam-413', payload: body({ state: { reported: { big: 'x'.repeat(9000) } } }) }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestEntityTooLargeException);
    expect((err as Error).message).toBe('The payload exceeds the maximum size allowed');
  });

  it('surfaces a request body over 128 KB as RequestEntityTooLargeException', async () => {
    await expect(
      client.send(new UpdateThingShadowCommand({ thingName: 'cam-413', payload: Buffer.alloc(129 * 1024, 0x20) })),
    ).rejects.toBeInstanceOf(RequestEntityTooLargeException);
  });

  it.each([
    ['invalid JSON', Buffer.from('{"state":'), 'Invalid JSON'],
    ['a missing state', body({ version: 1 }), 'Missing required node: state'],
    ['a 65-byte clientToken', body({ state: {}, clientToken: 'x'.repeat(65) }), 'Invalid clientToken'],
    ['seven levels of nesting', body({ state: { desired: { a: { b: { c: { d: { e: { f: {} } } } } } } } }), 'JSON contains too many levels of nesting; maximum is 6'],
  ])('surfaces %s as InvalidRequestException', async (_what, payload, message) => {
    const err: unknown = await client.send(new UpdateThingShadowCommand({ thingName: 'cam-400', payload })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestException);
    expect((err as Error).message).toBe(message);
  });

  it('rejects an invalid shadow name with InvalidRequestException', async () => {
    await expect(client.send(new GetThingShadowCommand({ thingName: 'cam', shadowName: 'a'.repeat(65) }))).rejects.toBeInstanceOf(
      InvalidRequestException,
    );
  });

  it('rejects deleting a missing shadow with ResourceNotFoundException', async () => {
    await expect(client.send(new DeleteThingShadowCommand({ thingName: 'cam-none' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('refuses a request signed with the wrong secret with ForbiddenException', async () => {
    const wrong = sdkClient({ accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' });
    const err: unknown = await wrong.send(new GetThingShadowCommand({ thingName: 'cam-classic' })).catch((e: unknown) => e);
    wrong.destroy();
    expect(err).toBeInstanceOf(ForbiddenException);
    expect((err as ForbiddenException).$metadata.httpStatusCode).toBe(403);
    expect((err as Error).message).toBe(
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  });

  it('refuses an unknown access key id with ForbiddenException', async () => {
    const stranger = sdkClient({ accessKeyId: 'AKIDSTRANGER', secretAccessKey: CREDENTIALS.secretAccessKey });
    await expect(stranger.send(new GetThingShadowCommand({ thingName: 'cam-classic' }))).rejects.toBeInstanceOf(ForbiddenException);
    stranger.destroy();
  });

  it('refuses an unsigned request with 403 and a modeled error type', async () => {
    const res = await fetch(`${api.url}/things/cam-classic/shadow`);
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
    expect(await res.json()).toMatchObject({ code: 403, message: 'Missing Authentication Token' });
  });

  it('answers an unsupported method with MethodNotAllowedException', async () => {
    const res = await fetch(`${api.url}/things/cam-classic/shadow`, { method: 'PUT', headers: { authorization: 'AWS4-HMAC-SHA256 x' } });
    // A malformed Authorization header is refused before routing.
    expect(res.status).toBe(403);
    const open = await startDataPlaneApi({ store, credentials: 'accept-any-signature' });
    try {
      const put = await fetch(`${open.url}/things/cam-classic/shadow`, {
        method: 'PUT',
        headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/iotdevicegateway/aws4_request, SignedHeaders=host, Signature=00' },
      });
      expect(put.status).toBe(405);
      expect(put.headers.get('x-amzn-errortype')).toBe(MethodNotAllowedException.name);
    } finally {
      await open.stop();
    }
  });
});

describe('devcloud verifies SigV4 by default, with the key pair it writes into devcloud.json', () => {
  it('serves the right key pair and refuses a wrong secret and an unsigned request with 403', async () => {
    const t = await startTestDevcloud({ broker: 'aedes' });
    try {
      const { dataPlane } = await readDevcloudInfo(t.dir);
      const signed = (secretAccessKey: string): IoTDataPlaneClient =>
        new IoTDataPlaneClient({ endpoint: dataPlane.url, region: dataPlane.region, credentials: { accessKeyId: dataPlane.accessKeyId, secretAccessKey }, maxAttempts: 1 });
      const right = signed(dataPlane.secretAccessKey);
      const forged = signed(`${dataPlane.secretAccessKey}x`);
      try {
        await right.send(new UpdateThingShadowCommand({ thingName: 'camera-1', shadowName: 'cloudcam', payload: body({ state: { desired: { a: 1 } } }) }));
        const got = json((await right.send(new GetThingShadowCommand({ thingName: 'camera-1', shadowName: 'cloudcam' }))).payload);
        expect(got).toMatchObject({ state: { desired: { a: 1 } } });
        const err: unknown = await forged.send(new GetThingShadowCommand({ thingName: 'camera-1', shadowName: 'cloudcam' })).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ForbiddenException);
        expect((err as Error).message).toMatch(/^The request signature we calculated does not match/);
      } finally {
        right.destroy();
        forged.destroy();
      }
      const unsigned = await fetch(`${dataPlane.url}/things/camera-1/shadow?name=cloudcam`);
      expect(unsigned.status).toBe(403);
      expect(unsigned.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
      expect(await unsigned.json()).toMatchObject({ message: 'Missing Authentication Token' });
    } finally {
      await t.cleanup();
    }
  });
});
