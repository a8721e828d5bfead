/**
 * The credentials provider's answers as recorded against AWS (awslabs/aws-iot-core-credential-provider-
 * session-helper, development notes: 403 "Invalid thing name passed", 403 "Access Denied", 404 "Role
 * alias does not exist", 200 {"credentials": {..., "expiration": "2023-02-06T05:54:46Z"}}).
 */
import { describe, expect, it } from 'vitest';
import { CredentialsProviderError, parseCredentialsAnswer } from './iot-credentials.js';

const ask = { roleAlias: 'cloudcam-live', thingName: 'camera-1' };

describe('parseCredentialsAnswer', () => {
  it('reads the credentials of a 200', () => {
    const text = JSON.stringify({ credentials: { accessKeyId: 'ASIAX', secretAccessKey: 'secret', sessionToken: 'token', expiration: '2023-02-06T05:54:46Z' } });
    expect(parseCredentialsAnswer(200, text, ask)).toEqual({ accessKeyId: 'ASIAX', secretAccessKey: 'secret', sessionToken: 'token', expiration: new Date('2023-02-06T05:54:46Z') });
  });

  it.each([
    [403, 'Invalid thing name passed', 'is not the thing attached to this device certificate'],
    [403, 'Access Denied', 'iot:AssumeRoleWithCertificate on role alias cloudcam-live'],
    [404, 'Role alias does not exist', 'role alias cloudcam-live is not deployed'],
    [400, 'Unable to assume the role, or the role to assume does not exist', 'Unable to assume the role'],
  ])('turns %i %s into an error that says what to change', (status, message, fix) => {
    const err = (() => {
      try {
        parseCredentialsAnswer(status, JSON.stringify({ message }), ask);
      } catch (e) {
        return e as CredentialsProviderError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(CredentialsProviderError);
    expect(err.status).toBe(status);
    expect(err.message).toContain(fix);
  });

  it('refuses a 200 whose body is not credentials', () => {
    expect(() => parseCredentialsAnswer(200, '<html>', ask)).toThrow(/not JSON/);
    expect(() => parseCredentialsAnswer(200, '{"credentials":{"accessKeyId":"A"}}', ask)).toThrow(/lacks credentials\./);
    expect(() => parseCredentialsAnswer(200, JSON.stringify({ credentials: { accessKeyId: 'A', secretAccessKey: 'B', sessionToken: 'C', expiration: 'soon' } }), ask)).toThrow(/not a date/);
  });
});
