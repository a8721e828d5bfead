/**
 * Application API replies as developer.axis.com/vapix/applications/application-api documents them:
 * success is `200 OK, text/plain, OK`; failure is `200 OK, text/plain, Error: <error code>`, with one
 * code table for upload.cgi and another for control.cgi (the same number means different things).
 * Each message must name the meaning and the fix a technician can act on; a code not in the tables
 * is quoted raw.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rejectionOf } from '../../../test/helpers/rejection.js';
import { AxisAppError, CONTROL_ERRORS, UPLOAD_ERRORS, controlApp, uploadApp } from './applications.js';
import { VapixClient } from './client.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** A camera that lists no apps and answers upload.cgi and control.cgi with `reply`. */
async function camera(reply: string): Promise<VapixClient> {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.startsWith('/axis-cgi/applications/list.cgi')) {
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        return res.end('<reply result="ok">\n</reply>\n');
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`${reply}\n`);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return new VapixClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, username: 'root', password: 'pw', timeoutMs: 3000 });
}

const upload = async (reply: string) => rejectionOf(uploadApp(await camera(reply), Buffer.from('eap'), 'cloudcam_1_0_0_armv7hf.eap'), AxisAppError);
const start = async (reply: string) => rejectionOf(controlApp(await camera(reply), 'start', 'cloudcam'), AxisAppError);

describe('upload.cgi Error: N (Axis: "Upload application")', () => {
  it('2 is a failed signature verification, not a size problem', async () => {
    const err = await upload('Error: 2');
    expect(err.code).toBe('2');
    expect(err.message).toMatch(/signature is missing or invalid.*"Error: 2".*signed \.eap/);
    expect(err.message).not.toMatch(/space|architecture/);
  });

  it('3 is too large or storage full, and the fix frees space (never "another architecture")', async () => {
    const err = await upload('Error: 3');
    expect(err.message).toMatch(/too large or the camera storage is full.*remove apps you do not use/);
    expect(err.message).not.toMatch(/architecture/);
  });

  it('5 is an incompatible package: the architecture or AXIS OS, and the system log', async () => {
    expect((await upload('Error: 5')).message).toMatch(/not compatible with this camera.*architecture.*system log/);
  });

  it('10 is unspecified: read the system log', async () => {
    expect((await upload('Error: 10')).message).toMatch(/unspecified.*System > Logs/);
  });

  it('every listed code has a meaning and a fix; an unknown one is quoted raw', async () => {
    for (const code of ['1', '2', '3', '5', '10', '12', '13', '14', '15', '27', '29']) expect(UPLOAD_ERRORS[code]?.fix).toBeTruthy();
    const err = await upload('Error: 77');
    expect(err.message).toMatch(/with "Error: 77", a code cloudcam does not know: see Error 77 on developer\.axis\.com/);
  });
});

describe('control.cgi Error: N (Axis: "Control application")', () => {
  it('1 is an invalid installed package, not an internal upload problem; 4 not installed; 9 too many running', async () => {
    expect((await start('Error: 1')).message).toMatch(/package or its manifest is invalid.*cloudcam install --force/);
    expect((await start('Error: 4')).message).toMatch(/no app with that name is installed.*cloudcam install/);
    expect((await start('Error: 9')).message).toMatch(/too many apps are running.*stop an app/);
    expect((await start('Error: 10')).message).toMatch(/unspecified.*system log/);
  });

  it('the same number reads per call: upload 1 is "not an ACAP package", control 1 is "invalid installed package"', async () => {
    expect(UPLOAD_ERRORS['1']?.meaning).not.toBe(CONTROL_ERRORS['1']?.meaning);
    expect((await upload('Error: 1')).message).toMatch(/not an ACAP package/);
  });

  it('an unknown control code is quoted raw', async () => {
    expect((await start('Error: 42')).message).toMatch(/"Error: 42", a code cloudcam does not know/);
  });
});
