/**
 * Text that came from elsewhere (a device's statusDetails, which any holder of that device's
 * identity can write) made safe to print on the operator's terminal: control characters and
 * bidirectional overrides are shown escaped (`\u001b`), so they cannot move the cursor, clear the
 * screen, retitle the window or reorder what the operator reads.
 */
// eslint-disable-next-line no-control-regex -- the control characters are what this removes
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
