/**
 * Live view's own camera account (`cloudcam setup live`). An ACAP app's service account cannot open
 * the camera's RTSP server (AxisCommunications/acap-documentation#113; acap3-examples#73: apps that
 * need RTSP must use a camera account), so the technician's tool, which holds an administrator
 * account, makes one: viewer group only (it can watch, nothing else), a random password, stored in the
 * app's parameters LiveRtspUsername/LiveRtspPassword where the agent reads its settings. Running it
 * again rotates the password: the account first, then the parameters.
 *
 * The password travels only in POST bodies (a GET query lands in the camera's access log) and never
 * in an error message: the camera's param.cgi errors echo the refused value.
 */
import { randomBytes } from 'node:crypto';
import type { VapixClient } from '../protocol/vapix/client.js';
import { parseParamList } from '../protocol/vapix/parameters.js';

/** 1-14 of a-z, A-Z, 0-9, as pwdgrp.cgi accepts user names. */
export const LIVE_ACCOUNT_USER = 'cloudcamlive';
export const LIVE_USER_PARAM = 'LiveRtspUsername';
export const LIVE_PASSWORD_PARAM = 'LiveRtspPassword';

export class LiveAccountError extends Error {
  override readonly name = 'LiveAccountError';
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

export interface LiveAccountResult {
  username: string;
  /** created: a new account; rotated: the account existed and has a new password (and viewer rights only). */
  action: 'created' | 'rotated';
}

/** 32 characters of base64url: 192 random bits, inside pwdgrp.cgi's 1-64 printable ASCII. */
export function newLivePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Accounts per group from `pwdgrp.cgi?action=get` (`viewer="a,b"` lines). */
export function parseAccountGroups(body: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const line of body.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9_-]+)="([^"]*)"\s*$/.exec(line.trim());
    if (m) groups.set(m[1]!, m[2]!.split(',').filter((u) => u !== ''));
  }
  return groups;
}

async function postForm(camera: VapixClient, path: string, form: Record<string, string>): Promise<string> {
  const reply = await camera.call200('POST', path, { body: new URLSearchParams(form).toString(), contentType: 'application/x-www-form-urlencoded' });
  return reply.body.toString('utf8');
}

export async function setupLiveAccount(camera: VapixClient, appName: string, password = newLivePassword()): Promise<LiveAccountResult> {
  // The username parameter only: listing the group would bring the current password along for nothing.
  const listed = await camera.call200('GET', `/axis-cgi/param.cgi?action=list&group=${encodeURIComponent(`${appName}.${LIVE_USER_PARAM}`)}`);
  const { params } = parseParamList(listed.body.toString('utf8'));
  if (!Object.hasOwn(params, `${appName}.${LIVE_USER_PARAM}`)) {
    throw new LiveAccountError(
      `the camera has no parameters ${appName}.${LIVE_USER_PARAM}/${LIVE_PASSWORD_PARAM}: the ${appName} app is not installed, or its package is older than live view accounts`,
      `install the current package (\`cloudcam install\`), then run \`cloudcam setup live\` again`,
    );
  }
  const username = LIVE_ACCOUNT_USER;
  const groups = parseAccountGroups(await postForm(camera, '/axis-cgi/pwdgrp.cgi', { action: 'get' }));
  const exists = [...groups.values()].some((members) => members.includes(username));
  // update also sets sgrp: an account of that name that someone gave more rights is brought back to viewer.
  const form: Record<string, string> = exists ? { action: 'update', user: username, pwd: password, sgrp: 'viewer' } : { action: 'add', user: username, pwd: password, grp: 'users', sgrp: 'viewer' };
  const reply = await postForm(camera, '/axis-cgi/pwdgrp.cgi', form);
  if (/\berror\b/i.test(reply)) {
    throw new LiveAccountError(`the camera refused to ${exists ? 'update' : 'create'} account ${username}: ${reply.replace(/<[^>]*>/g, '').trim().slice(0, 200)}`, 'the stored camera account must be an administrator; check the camera system log');
  }
  const stored = (await postForm(camera, '/axis-cgi/param.cgi', { action: 'update', [`root.${appName}.${LIVE_USER_PARAM}`]: username, [`root.${appName}.${LIVE_PASSWORD_PARAM}`]: password })).trim();
  if (stored !== 'OK') {
    // Not the reply itself: it would echo the password.
    throw new LiveAccountError(
      `account ${username} has a new password, but the camera refused storing it in the app parameters`,
      'run `cloudcam setup live` again (it rotates the password again); if it keeps failing, update the app package',
    );
  }
  return { username, action: exists ? 'rotated' : 'created' };
}
