import { createPrivateKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '../devcloud/pki.js';
import { answerChallenge, checkChallengeAnswer, parseChallengeRequest } from './challenge.js';

describe('proof of possession', () => {
  const nonce = (): string => randomBytes(32).toString('base64url');

  it('an answer signed with the certificate key of a CA in the list verifies; anything else says why not', async () => {
    const ca = await createCa('test CA');
    const other = await createCa('other CA');
    const device = await issueCertificate(ca, { commonName: 'camera-1', usage: 'client' });
    const n = nonce();
    const answer = answerChallenge(n, { thingName: 'camera-1', certificatePem: device.certPem, key: createPrivateKey(device.keyPem) });
    expect(checkChallengeAnswer(n, answer, ca.certPem)).toBeUndefined();
    expect(checkChallengeAnswer(n, answer, other.certPem + ca.certPem)).toBeUndefined();
    // Another nonce (a replay), another CA, a signature by another key, garbage.
    expect(checkChallengeAnswer(nonce(), answer, ca.certPem)).toMatch(/does not verify/);
    expect(checkChallengeAnswer(n, answer, other.certPem)).toMatch(/was not issued by a CA in --ca/);
    const stranger = await issueCertificate(ca, { commonName: 'camera-1', usage: 'client' });
    const forged = { ...answerChallenge(n, { thingName: 'camera-1', certificatePem: stranger.certPem, key: createPrivateKey(stranger.keyPem) }), certificatePem: device.certPem };
    expect(checkChallengeAnswer(n, forged, ca.certPem)).toMatch(/does not verify/);
    expect(checkChallengeAnswer(n, { ...answer, signature: 'AAAA' }, ca.certPem)).toMatch(/does not verify/);
    expect(checkChallengeAnswer(n, { ...answer, certificatePem: 'x' }, ca.certPem)).toMatch(/no readable certificate/);
    for (const junk of [null, 'x', {}, { ...answer, algorithm: 'md5' }]) expect(checkChallengeAnswer(n, junk, ca.certPem)).toMatch(/is not/);
  });

  it('takes only a 32-byte base64url nonce', () => {
    const n = nonce();
    expect(parseChallengeRequest(JSON.stringify({ nonce: n }))).toEqual({ nonce: n });
    for (const body of ['', 'null', '{}', '{"nonce": 1}', '{"nonce": "short"}', JSON.stringify({ nonce: n + 'A' }), JSON.stringify({ nonce: n.slice(0, 42) + '=' })]) {
      expect(parseChallengeRequest(body)).toHaveProperty('problem');
    }
  });
});
