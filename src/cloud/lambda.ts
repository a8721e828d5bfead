import { loadCloudConfig } from './config.js';
import { createCloudHandler, parseCloudEvent, type CloudHandler, type HandleResult } from './handler.js';

/** AWS Lambda entry point, invoked by the IoT topic rules (presence online, snapshot request). */
let handlerInstance: CloudHandler | undefined;

export async function handler(event: unknown): Promise<HandleResult> {
  const parsed = parseCloudEvent(event);
  if (!parsed) {
    // A rule or test event of the wrong shape: say so in the function's log, do not retry.
    console.error(JSON.stringify({ msg: 'cloudcam handler: unrecognised event; expected {thing, kind: presence|snapshot}', event }));
    return { action: 'ignored', thing: '', why: 'unrecognised event' };
  }
  handlerInstance ??= createCloudHandler(loadCloudConfig());
  const result = await handlerInstance.handle(parsed);
  console.log(JSON.stringify(logLine(result)));
  return result;
}

/** What the function's log says about a result: never the presigned fields (they carry a signature). */
function logLine(result: HandleResult): object {
  if (result.action === 'requested') return { msg: 'snapshot requested', thing: result.thing, id: result.request.id, key: result.key };
  if (result.action === 'granted') return { msg: 'upload grant issued', thing: result.thing, prefix: result.grant.keyPrefix, expiresAt: result.grant.expiresAt };
  return result;
}
