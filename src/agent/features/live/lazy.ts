/**
 * Everything live view loads on the first live request, as one module: feature.ts imports it with
 * import(), and the packaged bundle carries it as a separately compiled chunk (src/packaging/sea.ts)
 * so that its code, werift's above all, costs no memory on a camera nobody watches.
 */
export { createLiveSession } from './session.js';
export { RoleCredentialsSource } from '../../../protocol/iot-credentials.js';
