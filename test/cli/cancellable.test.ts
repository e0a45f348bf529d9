import { afterEach, describe, expect, it, vi } from 'vitest';
import { CancelledError } from '../../src/main/engine/errors.js';
import { runCancellable } from '../../src/cli/cancellable.js';

afterEach(() => vi.restoreAllMocks());

describe('runCancellable', () => {
  it("returns the body's exit status and removes its SIGINT listener", async () => {
    const before = process.listenerCount('SIGINT');
    const status = await runCancellable({ command: 'x', whenCancelled: 'stopped' }, async () => {
      expect(process.listenerCount('SIGINT')).toBe(before + 1);
      return 3;
    });
    expect(status).toBe(3);
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('Ctrl-C aborts the body, and its CancelledError becomes exit 130 with the message', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const calls: string[] = [];
    const status = await runCancellable(
      {
        command: 'invert',
        whenCancelled: 'nothing was written.',
        onSigint: () => calls.push('sigint'),
        beforeReport: () => calls.push('report'),
      },
      async (ac) => {
        process.emit('SIGINT');
        expect(ac.signal.aborted).toBe(true);
        throw new CancelledError();
      },
    );
    expect(status).toBe(130);
    expect(calls).toEqual(['sigint', 'report']);
    expect(error).toHaveBeenCalledWith('inversion-studio invert: nothing was written.');
  });

  it('rethrows other errors after beforeReport', async () => {
    const report = vi.fn();
    await expect(
      runCancellable({ command: 'x', whenCancelled: 'stopped', beforeReport: report }, async () => Promise.reject(new Error('boom'))),
    ).rejects.toThrow('boom');
    expect(report).toHaveBeenCalledOnce();
  });
});
