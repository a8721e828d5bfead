#!/usr/bin/env node
// The floor for `make bench`, in its own process like the agent: for each presigned POST read from
// stdin (JSON {camera, resolution, posts:[{url, fields}]}), a VAPIX GET then the POST, timed; prints
// the timings (ms) as a JSON array.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { VapixClient } = await import(path.join(root, 'dist/protocol/vapix/client.js'));
const { uploadPresignedPost } = await import(path.join(root, 'dist/protocol/s3-post.js'));

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { camera, resolution, posts } = JSON.parse(input);
// The agent's path: plain HTTP, as an app on the camera reaches it.
const client = new VapixClient({ baseUrl: camera.httpUrl, username: camera.username, password: camera.password, timeoutMs: 10_000 });
const ms = [];
for (const post of posts) {
  const t0 = performance.now();
  const { jpeg } = await client.captureJpeg({ resolution, compression: 30, maxBytes: 5 * 1024 * 1024 });
  await uploadPresignedPost(post, jpeg, { contentType: 'image/jpeg', timeoutMs: 10_000 });
  ms.push(performance.now() - t0);
}
process.stdout.write(JSON.stringify(ms));
