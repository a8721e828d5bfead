import { errors } from './errors.js';

export interface PartInfo {
  /** Form field name as sent. */
  name: string;
  filename?: string;
  contentType?: string;
}

/** Receives the upload's bytes; `write` may wait, which pauses reading (backpressure). */
export interface FileSink {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
}

export interface MultipartOptions {
  boundary: string;
  /** S3 caps the form data before the file (fields and boundaries) at 20 KB. */
  maxPreDataBytes: number;
  onField(field: { name: string; value: string }): void;
  /** Called when the `file` part starts: every field before it is known by then. */
  onFileStart(info: PartInfo): FileSink | Promise<FileSink>;
}

export interface MultipartResult {
  /** False when the form had no `file` part. */
  fileSeen: boolean;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER_BYTES = 8 * 1024;

/** Reads a `name="value"` parameter of a header, accepting quoted (with \" escapes) and bare values. */
function headerParam(header: string, param: string): string | undefined {
  const re = new RegExp(`;\\s*${param}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i');
  const m = re.exec(header);
  if (!m) return undefined;
  if (m[1] !== undefined) return m[1].replace(/\\(.)/g, '$1');
  return m[2];
}

function parsePartHeaders(block: string): PartInfo {
  const headers = new Map<string, string>();
  for (const line of block.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw errors.malformedPost('A part header line has no colon.');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const disposition = headers.get('content-disposition');
  if (!disposition || !/^form-data\s*(;|$)/i.test(disposition)) {
    throw errors.malformedPost('Every part needs "Content-Disposition: form-data".');
  }
  const name = headerParam(disposition, 'name');
  if (name === undefined || name === '') throw errors.malformedPost('A part has no field name.');
  const filename = headerParam(disposition, 'filename');
  const contentType = headers.get('content-type');
  return {
    name,
    ...(filename !== undefined ? { filename } : {}),
    ...(contentType !== undefined ? { contentType } : {}),
  };
}

/** The boundary parameter of a multipart/form-data Content-Type, or undefined. */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const boundary = headerParam(contentType, 'boundary');
  return boundary && boundary.length <= 70 ? boundary : undefined;
}

type State = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done';

/**
 * Streams a multipart/form-data body (RFC 7578). Fields before `file` are buffered (bounded by
 * maxPreDataBytes); the file's bytes go to the sink as they arrive, so an upload never has to fit
 * in memory. Like S3, everything after the file part is ignored (read and discarded).
 */
export async function parseMultipart(source: AsyncIterable<Buffer>, opts: MultipartOptions): Promise<MultipartResult> {
  const delimiter = Buffer.from(`\r\n--${opts.boundary}`);
  // A leading CRLF lets the first boundary match the same delimiter as the others.
  let buf: Buffer = Buffer.from(CRLF);
  let state: State = 'preamble';
  let preData = 0;
  let part: PartInfo | undefined;
  let fieldChunks: Buffer[] = [];
  let sink: FileSink | undefined;
  let fileSeen = false;

  const countPreData = (n: number): void => {
    preData += n;
    if (preData > opts.maxPreDataBytes) throw errors.preDataTooLarge(opts.maxPreDataBytes);
  };

  const emit = async (chunk: Buffer): Promise<void> => {
    if (chunk.length === 0) return;
    if (sink) {
      await sink.write(chunk);
    } else {
      countPreData(chunk.length);
      fieldChunks.push(chunk);
    }
  };

  /** Ends the current part; true when it was the file, after which S3 ignores the rest. */
  const finishPart = async (): Promise<boolean> => {
    if (sink) {
      await sink.end();
      sink = undefined;
      return true;
    }
    if (part) opts.onField({ name: part.name, value: Buffer.concat(fieldChunks).toString('utf8') });
    part = undefined;
    fieldChunks = [];
    return false;
  };
  const isDone = (): boolean => state === 'done';

  // Runs the state machine over what is buffered; returns when it needs more bytes.
  const advance = async (): Promise<void> => {
    for (;;) {
      if (state === 'done') {
        buf = Buffer.alloc(0);
        return;
      }
      if (state === 'preamble') {
        const at = buf.indexOf(delimiter);
        if (at === -1) {
          countPreData(Math.max(0, buf.length - delimiter.length));
          buf = buf.subarray(Math.max(0, buf.length - delimiter.length));
          return;
        }
        countPreData(at + delimiter.length);
        buf = buf.subarray(at + delimiter.length);
        state = 'after-delimiter';
      } else if (state === 'after-delimiter') {
        if (buf.length < 2) return;
        const next = buf.subarray(0, 2).toString('latin1');
        countPreData(2);
        buf = buf.subarray(2);
        if (next === '--') {
          state = 'done';
        } else if (next === '\r\n') {
          state = 'headers';
        } else {
          throw errors.malformedPost('A boundary line is not followed by CRLF.');
        }
      } else if (state === 'headers') {
        let block: string;
        if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) {
          block = '';
          countPreData(2);
          buf = buf.subarray(2);
        } else {
          const end = buf.indexOf(HEADER_END);
          if (end === -1) {
            if (buf.length > MAX_HEADER_BYTES) throw errors.malformedPost('A part header block is too large.');
            return;
          }
          block = buf.subarray(0, end).toString('utf8');
          countPreData(end + HEADER_END.length);
          buf = buf.subarray(end + HEADER_END.length);
        }
        part = parsePartHeaders(block);
        if (part.name.toLowerCase() === 'file') {
          fileSeen = true;
          sink = await opts.onFileStart(part);
        }
        state = 'body';
      } else {
        const at = buf.indexOf(delimiter);
        if (at === -1) {
          // Keep a tail that could be the start of a delimiter split across chunks.
          const safe = Math.max(0, buf.length - (delimiter.length - 1));
          await emit(buf.subarray(0, safe));
          buf = buf.subarray(safe);
          return;
        }
        await emit(buf.subarray(0, at));
        buf = buf.subarray(at + delimiter.length);
        state = (await finishPart()) ? 'done' : 'after-delimiter';
      }
    }
  };

  for await (const chunk of source) {
    if (isDone()) continue;
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    await advance();
  }
  if (!isDone()) throw errors.malformedPost('The body ended before the closing boundary.');
  return { fileSeen };
}
