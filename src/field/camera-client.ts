import { VapixClient } from '../protocol/vapix.js';
import type { StoredCamera } from './camera-store.js';

/** Field commands wait longer than the agent: a camera on a customer's network can be slow. */
export const FIELD_TIMEOUT_MS = 15_000;

export function vapixFor(camera: Pick<StoredCamera, 'url' | 'username' | 'password'>, timeoutMs = FIELD_TIMEOUT_MS): VapixClient {
  return new VapixClient({ baseUrl: camera.url, username: camera.username, password: camera.password, timeoutMs });
}
