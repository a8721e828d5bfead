/** /axis-cgi/param.cgi: list and update of the parameter tree (params.ts), by GET or form POST. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CameraState } from '../state.js';
import { readBody, text } from './reply.js';

export async function paramCgi(cam: CameraState, req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
  const { params } = cam;
  let q = url.searchParams;
  if (req.method === 'POST') {
    const body = await readBody(req);
    if (!body) return text(res, 413, 'Request body too large\n');
    q = new URLSearchParams(body.toString('utf8'));
  }
  const action = q.get('action');
  if (action === 'list') return text(res, 200, params.list(q.get('group')));
  if (action === 'update') {
    const values = [...q.entries()].filter(([k]) => k !== 'action' && k !== 'usergroup');
    return text(res, 200, params.update(values));
  }
  return text(res, 200, `# Error: Unknown action '${action ?? ''}'\n`);
}