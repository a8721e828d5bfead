/**
 * Asking for camera credentials: on a terminal, a prompt that does not echo the password; for
 * scripts, the password from stdin (--password-stdin). Never argv, which `ps` shows to every user.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

export interface PromptIo {
  input: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  output: Writable;
}

const defaultIo = (): PromptIo => ({ input: process.stdin, output: process.stderr });

export async function askLine(question: string, io: PromptIo = defaultIo()): Promise<string> {
  const rl = createInterface({ input: io.input, output: io.output, terminal: false });
  io.output.write(question);
  try {
    return await new Promise<string>((resolve, reject) => {
      rl.once('line', (line) => resolve(line));
      rl.once('close', () => reject(new Error('no answer (input closed)')));
    });
  } finally {
    rl.close();
  }
}

/** Reads a password from a terminal in raw mode: nothing is echoed; Ctrl-C aborts. */
export async function askSecret(question: string, io: PromptIo = defaultIo()): Promise<string> {
  const { input, output } = io;
  if (!input.isTTY || !input.setRawMode) throw new Error('no terminal to ask for the password: use --password-stdin');
  output.write(question);
  input.setRawMode(true);
  input.resume();
  let secret = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            input.off('data', onData);
            resolve(secret);
            return;
          }
          if (ch === '\u0003') {
            input.off('data', onData);
            reject(new Error('cancelled'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') secret = secret.slice(0, -1);
          else secret += ch;
        }
      };
      input.on('data', onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
    output.write('\n');
  }
}

/** The whole of stdin, without one trailing newline (as `echo pw |` and `printf pw` both give). */
export async function readStdinSecret(input: Readable = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input as AsyncIterable<Buffer>) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (text === '') throw new Error('--password-stdin read an empty password');
  return text;
}
