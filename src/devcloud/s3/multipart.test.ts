import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { S3Error } from './errors.js';
import { formBoundary, parseMultipart, type PartInfo } from './multipart.js';

const B = 'XbOuNdArY123';

function body(parts: Array<{ name: string; value: string | Buffer; filename?: string }>, boundary = B): Buffer {
  const chunks: Buffer[] = [Buffer.from('preamble to ignore\r\n')];
  for (const p of parts) {
    const fn = p.filename !== undefined ? `; filename="${p.filename}"` : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${fn}\r\n\r\n`));
    chunks.push(Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\nepilogue`));
  return Buffer.concat(chunks);
}

async function* split(buf: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= at || cut >= buf.length) continue;
    yield buf.subarray(at, cut);
    at = cut;
  }
  yield buf.subarray(at);
}

async function parse(source: AsyncIterable<Buffer>, maxPreDataBytes = 20480) {
  const fields: Array<{ name: string; value: string }> = [];
  let file: { info: PartInfo; data: Buffer; ended: boolean } | undefined;
  const result = await parseMultipart(source, {
    boundary: B,
    maxPreDataBytes,
    onField: (f) => fields.push(f),
    onFileStart: (info) => {
      const chunks: Buffer[] = [];
      file = { info, data: Buffer.alloc(0), ended: false };
      const f = file;
      return {
        write: async (c: Buffer) => {
          chunks.push(Buffer.from(c));
        },
        end: async () => {
          f.data = Buffer.concat(chunks);
          f.ended = true;
        },
      };
    },
  });
  return { fields, file, result };
}

describe('parseMultipart', () => {
  // Binary content that contains CRLFs and a near-miss of the delimiter.
  const payload = Buffer.concat([Buffer.from(`\r\n--${B.slice(0, -1)}x\r\n`), Buffer.from([0, 255, 13, 10, 45, 45]), Buffer.alloc(500, 0xab)]);
  const form = body([
    { name: 'key', value: 'a/b.jpg' },
    { name: 'Policy', value: 'eyJ9' },
    { name: 'file', value: payload, filename: 'snap.jpg' },
    { name: 'after', value: 'ignored like S3 does' },
  ]);

  it('yields fields in order, streams the file, and ignores what follows it, however the body is split', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: form.length - 1 }), { maxLength: 12 }), async (cuts) => {
        const { fields, file, result } = await parse(split(form, cuts));
        expect(result.fileSeen).toBe(true);
        expect(fields).toEqual([
          { name: 'key', value: 'a/b.jpg' },
          { name: 'Policy', value: 'eyJ9' },
        ]);
        expect(file?.info).toEqual({ name: 'file', filename: 'snap.jpg' });
        expect(file?.ended).toBe(true);
        expect(file?.data.equals(payload)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('also parses a body delivered one byte at a time', async () => {
    const cuts = Array.from({ length: form.length - 1 }, (_, i) => i + 1);
    const { file } = await parse(split(form, cuts));
    expect(file?.data.equals(payload)).toBe(true);
  });

  it('reports a form without a file part', async () => {
    const { result, fields } = await parse(split(body([{ name: 'key', value: 'k' }]), []));
    expect(result.fileSeen).toBe(false);
    expect(fields).toEqual([{ name: 'key', value: 'k' }]);
  });

  it('refuses fields before the file over the pre-data limit with MaxPostPreDataLengthExceededError', async () => {
    const big = body([{ name: 'x-amz-meta-a', value: 'x'.repeat(300) }, { name: 'file', value: 'abc' }]);
    await expect(parse(split(big, []), 200)).rejects.toMatchObject({ code: 'MaxPostPreDataLengthExceededError', status: 400 });
  });

  it('refuses a truncated body and a part without a name with MalformedPOSTRequest', async () => {
    const truncated = form.subarray(0, form.length - 40);
    await expect(parse(split(truncated.subarray(0, 200), []))).rejects.toBeInstanceOf(S3Error);
    const noName = Buffer.from(`--${B}\r\nContent-Disposition: form-data\r\n\r\nv\r\n--${B}--\r\n`);
    await expect(parse(split(noName, []))).rejects.toMatchObject({ code: 'MalformedPOSTRequest' });
  });
});

describe('formBoundary', () => {
  it('reads quoted and bare boundaries and refuses other content types', () => {
    expect(formBoundary('multipart/form-data; boundary=abc')).toBe('abc');
    expect(formBoundary('multipart/form-data; boundary="a b"')).toBe('a b');
    expect(formBoundary('application/x-www-form-urlencoded')).toBeUndefined();
    expect(formBoundary(undefined)).toBeUndefined();
  });
});
