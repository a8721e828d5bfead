import { accessToken, signOut } from './auth.js';

export type { CameraSummary, EventImageRef, ImageRef, LiveGrant, LiveRefusalReason, Share } from '../api/types.js';

export class SignedOut extends Error {}

/** An API answer that is not 2xx: its status and, where the API gives one, its machine-readable reason. */
export class ApiCallError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string | undefined,
  ) {
    super(message);
  }
}

let base = '';
export function setApiBase(url: string): void {
  base = url.replace(/\/$/, '');
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const token = accessToken();
  if (token === undefined) throw new SignedOut('signed out');
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 401) {
    signOut();
    throw new SignedOut('signed out');
  }
  const data = (await res.json()) as T & { message?: string; reason?: string };
  if (!res.ok) throw new ApiCallError(data.message ?? `HTTP ${res.status}`, res.status, data.reason);
  return data;
}
