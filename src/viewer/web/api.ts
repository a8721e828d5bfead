import { accessToken, signOut } from './auth.js';

export type { CameraSummary, EventImageRef, ImageRef, Share } from '../api/types.js';

export class SignedOut extends Error {}

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
  const data = (await res.json()) as T & { message?: string };
  if (!res.ok) throw new Error(data.message ?? `HTTP ${res.status}`);
  return data;
}
