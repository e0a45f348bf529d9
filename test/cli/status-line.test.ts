import { afterEach, describe, expect, it, vi } from 'vitest';
import { statusLine } from '../../src/cli/status-line.js';

function captureStderr(tty: boolean, columns = 20) {
  const written: string[] = [];
  const isTTY = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
  const cols = Object.getOwnPropertyDescriptor(process.stderr, 'columns');
  Object.defineProperty(process.stderr, 'isTTY', { value: tty, configurable: true });
  Object.defineProperty(process.stderr, 'columns', { value: columns, configurable: true });
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  restore = () => {
    write.mockRestore();
    if (isTTY) Object.defineProperty(process.stderr, 'isTTY', isTTY);
    else delete (process.stderr as { isTTY?: boolean }).isTTY;
    if (cols) Object.defineProperty(process.stderr, 'columns', cols);
    else delete (process.stderr as { columns?: number }).columns;
  };
  return written;
}
let restore = () => {};
afterEach(() => restore());

describe('statusLine', () => {
  it('on a terminal redraws one line in place, cut to the width, and prints notes below it', () => {
    const out = captureStderr(true, 12);
    const s = statusLine();
    expect(s.tty).toBe(true);
    s.draw('refining [####------] 4/10');
    s.draw('refining [#####-----] 5/10');
    s.print('a note');
    s.print('another');
    s.draw('ranking 1/2');
    s.end();
    s.end();
    expect(out).toEqual(['\rrefining [#\x1b[K', '\rrefining [#\x1b[K', '\n', 'a note\n', 'another\n', '\rranking 1/2\x1b[K', '\n']);
  });

  it('elsewhere prints plain lines', () => {
    const out = captureStderr(false);
    const s = statusLine();
    expect(s.tty).toBe(false);
    s.print('loading');
    s.end();
    expect(out).toEqual(['loading\n']);
  });
});
