import { describe, expect, it } from 'vitest';
import { RtspError } from '../../../protocol/rtsp/errors.js';
import { chooseRtspAccount, rtspRefusalFix } from './rtsp-account.js';

const serviceAccount = { access: 'service-account' as const, credentials: { current: () => Promise.resolve({ username: 'acap-cloudcam', password: 'runtime' }) } };

describe('the RTSP account of live view', () => {
  it('prefers live.rtspUsername over the VAPIX credentials, which an ACAP service account cannot use on RTSP (acap-documentation#113)', async () => {
    const chosen = chooseRtspAccount({ rtspUsername: 'cloudcamlive', rtspPassword: 'p4ss' }, serviceAccount);
    expect(chosen.source).toBe('live-account');
    expect(await chosen.credentials.current()).toEqual({ username: 'cloudcamlive', password: 'p4ss' });
  });

  it('falls back to the VAPIX credentials and says which', async () => {
    const chosen = chooseRtspAccount({ rtspUsername: '', rtspPassword: '' }, serviceAccount);
    expect(chosen.source).toBe('service-account');
    expect((await chosen.credentials.current()).username).toBe('acap-cloudcam');
    expect(chooseRtspAccount({ rtspUsername: '', rtspPassword: '' }, { ...serviceAccount, access: 'configured' }).source).toBe('configured');
  });

  it('names `cloudcam setup live` for a 401 only', () => {
    const refused = new RtspError('auth', 'camera refused', 401, 'acap-cloudcam');
    for (const source of ['service-account', 'live-account', 'configured'] as const) expect(rtspRefusalFix(refused, source)).toContain('cloudcam setup live');
    expect(rtspRefusalFix(new RtspError('connect', 'reset'), 'service-account')).toBeUndefined();
    // A camera offering no Digest is fixed on the camera, not with another account.
    expect(rtspRefusalFix(new RtspError('auth', 'no digest challenge', 401), 'service-account')).toBeUndefined();
    expect(rtspRefusalFix(new Error('x'), 'live-account')).toBeUndefined();
  });
});
