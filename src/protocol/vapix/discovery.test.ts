import { describe, expect, it } from 'vitest';
import { apiListRequest, discoverApis, EVENT_STREAMING_API, hasApi, parseApiList, type VapixCaller } from './discovery.js';

/**
 * API discovery as Axis documents it (developer.axis.com/vapix/network-video/api-discovery-service):
 * POST /axis-cgi/apidiscovery.cgi {"apiVersion":"1.0","context":...,"method":"getApiList"}; reply
 * shape as recorded from cameras in Kane610/axis's tests (tests/test_api_discovery.py).
 */
const REPLY = {
  method: 'getApiList',
  apiVersion: '1.0',
  data: {
    apiList: [
      { id: 'api-discovery', version: '1.0', name: 'API Discovery Service', docLink: 'https://www.axis.com/partner_pages/vapix_library/#/' },
      { id: 'basic-device-info', version: '1.1', name: 'Basic Device Information', docLink: '' },
      { id: EVENT_STREAMING_API, version: '1.0', name: 'Event streaming over WebSocket', docLink: '' },
    ],
  },
};

const camera = (status: number, body: string): VapixCaller & { calls: string[] } => {
  const calls: string[] = [];
  return {
    calls,
    call: (method, path, opts) => {
      calls.push(`${method} ${path} ${opts.body ?? ''}`);
      return Promise.resolve({ status, body: Buffer.from(body) });
    },
  };
};

describe('API discovery', () => {
  it('asks getApiList and reads the ids', async () => {
    expect(JSON.parse(apiListRequest())).toEqual({ apiVersion: '1.0', context: 'cloudcam', method: 'getApiList' });
    const cam = camera(200, JSON.stringify(REPLY));
    const list = await discoverApis(cam);
    expect(cam.calls).toEqual([`POST /axis-cgi/apidiscovery.cgi ${apiListRequest()}`]);
    expect(hasApi(list, EVENT_STREAMING_API)).toBe(true);
    expect(hasApi(list, 'ptz-control')).toBe(false);
  });
  it('tells firmware without the event stream (AXIS OS 10) from a reply it cannot read', async () => {
    const old = { ...REPLY, data: { apiList: REPLY.data.apiList.slice(0, 2) } };
    expect(hasApi(await discoverApis(camera(200, JSON.stringify(old))), EVENT_STREAMING_API)).toBe(false);
    expect(await discoverApis(camera(404, 'Not Found'))).toMatchObject({ ok: false, missing: true });
    expect(await discoverApis(camera(500, ''))).toMatchObject({ ok: false, missing: false });
  });
  it('reports malformed and error replies without throwing', () => {
    expect(parseApiList('nope')).toMatchObject({ ok: false, missing: false });
    expect(parseApiList('[]')).toMatchObject({ ok: false });
    expect(parseApiList('{"apiVersion":"1.0","error":{"code":4002,"message":"bad"}}')).toMatchObject({ ok: false, why: 'API discovery refused: error 4002 bad' });
    expect(parseApiList('{"data":{"apiList":[{"id":5},null,{"id":"x"}]}}')).toEqual({ ok: true, apis: [{ id: 'x', version: '' }] });
  });
});
