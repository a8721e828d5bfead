/**
 * /axis-cgi/pwdgrp.cgi, VAPIX user management (developer.axis.com/vapix/network-video/system-settings,
 * "Add, modify and delete user accounts"): action=add|update|remove|get, GET or form POST, for
 * administrators only. user: 1-14 of a-z A-Z 0-9; pwd: 1-64 ASCII characters 32-126; grp: the primary
 * group (`users`); sgrp: colon-separated secondary groups, which set the rights (viewer, operator,
 * admin, ptz). `get` answers one `group="user,user"` line per group, the form Kane610/axis records in
 * tests/test_pwdgrp_cgi.py. The wording of the success and error bodies is not from a recording:
 * clients should look for an `Error` line only (src/field/live-account.ts does).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DigestVerifier } from '../../../protocol/digest.js';
import type { CameraState } from '../state.js';
import type { CameraRole } from '../types.js';
import { readBody, text, unauthorized } from './reply.js';

const USER = /^[A-Za-z0-9]{1,14}$/;
const PASSWORD = /^[\x20-\x7e]{1,64}$/;
const SECONDARY_GROUPS = new Set(['viewer', 'operator', 'admin', 'ptz']);

/** The account's role from its secondary groups: the highest one named. */
function roleOf(sgrp: string): CameraRole | undefined {
  const groups = sgrp.split(':');
  if (groups.some((g) => !SECONDARY_GROUPS.has(g))) return undefined;
  return groups.includes('admin') ? 'admin' : groups.includes('operator') ? 'operator' : groups.includes('viewer') ? 'viewer' : undefined;
}

function html(res: ServerResponse, body: string): void {
  text(res, 200, `<html><body>${body}</body></html>\n`, { 'Content-Type': 'text/html' });
}

export async function pwdgrpCgi(cam: CameraState, req: IncomingMessage, url: URL, res: ServerResponse, username: string, v: DigestVerifier): Promise<void> {
  // Apache answers an authenticated user its authorization refuses with 401 and a new challenge.
  if (cam.roles.get(username) !== 'admin') return unauthorized(res, false, v);
  let q = url.searchParams;
  if (req.method === 'POST') {
    const body = await readBody(req);
    if (!body) return text(res, 413, 'Request body too large\n');
    q = new URLSearchParams(body.toString('utf8'));
  }
  const { users, roles } = cam;
  const action = q.get('action');
  const user = q.get('user') ?? '';
  const pwd = q.get('pwd');
  const sgrp = q.get('sgrp');
  if (action === 'get') {
    const members = (role: CameraRole) => Object.keys(users).filter((u) => roleRank(roles.get(u)) >= roleRank(role));
    return text(res, 200, [`admin="${members('admin').join(',')}"`, `operator="${members('operator').join(',')}"`, `viewer="${members('viewer').join(',')}"`, `users="${Object.keys(users).join(',')}"`, ''].join('\n'));
  }
  if (action !== 'add' && action !== 'update' && action !== 'remove') return html(res, `Error: unknown action '${action ?? ''}'`);
  if (!USER.test(user)) return html(res, 'Error: invalid user name (1-14 characters a-z, A-Z, 0-9)');
  const exists = Object.hasOwn(users, user);
  if (action === 'remove') {
    if (!exists) return html(res, `Error: no such account ${user}`);
    if (user === cam.opts.username) return html(res, `Error: cannot remove ${user}`);
    delete users[user];
    roles.delete(user);
    return html(res, `Removed account ${user}.`);
  }
  if (pwd !== null && !PASSWORD.test(pwd)) return html(res, 'Error: invalid password (1-64 ASCII characters 32-126)');
  const role = sgrp === null ? undefined : roleOf(sgrp);
  if (sgrp !== null && role === undefined) return html(res, `Error: invalid secondary groups '${sgrp}'`);
  if (action === 'add') {
    if (exists) return html(res, `Error: this user name already exists, consult the system log file`);
    if (pwd === null || q.get('grp') !== 'users' || role === undefined) return html(res, 'Error: add needs user, pwd, grp=users and sgrp');
    users[user] = pwd;
    roles.set(user, role);
    return html(res, `Created account ${user}.`);
  }
  if (!exists) return html(res, `Error: no such account ${user}`);
  if (pwd !== null) users[user] = pwd;
  if (role !== undefined) roles.set(user, role);
  return html(res, `Modified account ${user}.`);
}

function roleRank(role: CameraRole | undefined): number {
  return role === 'admin' ? 3 : role === 'operator' ? 2 : role === 'viewer' ? 1 : 0;
}
