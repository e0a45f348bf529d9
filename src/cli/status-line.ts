/**
 * Progress on stderr: on a terminal one status line, redrawn in place, with notes printed above
 * it; elsewhere (a log file, a test) plain lines, which the commands print more sparingly.
 */
export interface StatusLine {
  /** Whether stderr is a terminal. */
  readonly tty: boolean;
  /** Redraw the status line (terminal only), cut to the terminal's width. */
  draw(line: string): void;
  /** A line of its own, below the status line if one is drawn. */
  print(line: string): void;
  /** Finish the status line, if one is drawn. */
  end(): void;
}

export function statusLine(): StatusLine {
  const tty = process.stderr.isTTY === true;
  let drawn = false;
  const end = () => {
    if (drawn) process.stderr.write('\n');
    drawn = false;
  };
  return {
    tty,
    draw(line) {
      process.stderr.write(`\r${line.slice(0, (process.stderr.columns || 120) - 1)}\x1b[K`);
      drawn = true;
    },
    print(line) {
      end();
      process.stderr.write(`${line}\n`);
    },
    end,
  };
}
