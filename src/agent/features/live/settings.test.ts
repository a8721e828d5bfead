import { describe, expect, it } from 'vitest';
import type { AgentConfig } from '../../config/index.js';
import { liveEndpoints } from './settings.js';

function config(live: Partial<AgentConfig['live']>, endpoint = 'abc123-ats.iot.eu-west-1.amazonaws.com'): AgentConfig {
  return {
    iot: { endpoint },
    live: { enabled: true, maxViewers: 4, idleSeconds: 30, rtspPort: 554, credentialsEndpoint: 'https://c1.credentials.iot.eu-west-1.amazonaws.com', roleAlias: 'Cloudcam-Live', region: '', kvsEndpoint: '', caPath: '', ...live },
  } as AgentConfig;
}

describe('liveEndpoints', () => {
  it('derives the region from iot.endpoint and the KVS endpoint from the region', () => {
    expect(liveEndpoints(config({}), 'http://127.0.0.12')).toEqual({
      ok: true,
      value: {
        region: 'eu-west-1',
        kvsEndpoint: 'https://kinesisvideo.eu-west-1.amazonaws.com',
        credentialsEndpoint: 'https://c1.credentials.iot.eu-west-1.amazonaws.com',
        roleAlias: 'Cloudcam-Live',
        rtspUrl: 'rtsp://127.0.0.12:554/axis-media/media.amp?videocodec=h264',
        additionalHostAddresses: [],
      },
    });
  });

  it('adds a loopback host candidate only when KVS itself is on loopback (devcloud)', () => {
    const r = liveEndpoints(config({ region: 'us-east-1', kvsEndpoint: 'https://127.0.0.1:4443', rtspPort: 8554 }, '127.0.0.1'), 'http://127.0.0.1:8080');
    expect(r).toMatchObject({ ok: true, value: { region: 'us-east-1', kvsEndpoint: 'https://127.0.0.1:4443', rtspUrl: 'rtsp://127.0.0.1:8554/axis-media/media.amp?videocodec=h264', additionalHostAddresses: ['127.0.0.1'] } });
  });

  it('says which key to set when live view is not set up', () => {
    const problem = (c: AgentConfig): string => {
      const r = liveEndpoints(c, 'http://127.0.0.1');
      return r.ok ? '' : r.error;
    };
    expect(problem(config({ credentialsEndpoint: '' }))).toContain('live.credentialsEndpoint');
    expect(problem(config({ roleAlias: '' }))).toContain('live.roleAlias');
    expect(problem(config({}, 'broker.example.com'))).toContain('set live.region');
  });
});
