import type { Devcloud } from '../../src/devcloud/devcloud.js';
import { uploadPresignedPost } from '../../src/protocol/s3-post.js';
import { grantUploadFields } from '../../src/protocol/upload-grant.js';

/** Stores event pictures as the agent would: a grant from devcloud's cloud handler, one POST per key. */
export async function uploadEventPictures(dc: Devcloud, thing: string, keys: string[], jpeg: Buffer): Promise<void> {
  const granted = await dc.handler.handle({ kind: 'snapshot', thing, reason: 'grant' });
  if (granted.action !== 'granted') throw new Error(`expected a grant, got ${granted.action}`);
  const at = new Date().toISOString();
  for (const key of keys) {
    const fields = grantUploadFields(granted.grant, key, { trigger: 'motion', topic: 'tns1:VideoSource/MotionAlarm', time: at, frameTime: at });
    await uploadPresignedPost({ url: granted.grant.url, fields }, jpeg, { contentType: 'image/jpeg', timeoutMs: 5000 });
  }
}
