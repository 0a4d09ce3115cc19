/**
 * Synchronous tasks run back to back never give the event loop a turn: a Ctrl-C (its signal handler),
 * timers and I/O would wait for the whole map or chain. The runners ask between tasks and between map
 * elements; once the loop has been held for TURN_MS, `check()` returns a promise that resolves on the next
 * turn (setImmediate), else undefined (nothing awaited).
 *
 * A clock read costs ~0.1 µs on a VM, as much as a trivial map element: each loop reads the clock every
 * `stride` calls, 1 while its steps are slow and up to MAX_STRIDE while they take microseconds.
 */
const TURN_MS = 50;
const MAX_STRIDE = 16;
let lastTurn = performance.now();

export class EventLoopTurns {
  /** Calls left before the next clock read: callers decrement it inline (`if (--turns.countdown === 0)`). */
  countdown = 1;
  private stride = 1;
  // The first check is never "fast": the element or task before it may already be a slow one (a map of
  // 1 s synchronous elements must take its turn after the first, not after the second).
  private lastCheck = -Infinity;

  /** A promise to await when the loop has held the event loop for TURN_MS; call when `countdown` hits 0. */
  check(): Promise<void> | undefined {
    const now = performance.now();
    const fast = now - this.lastCheck < 1;
    this.lastCheck = now;
    this.stride = fast ? Math.min(this.stride * 2, MAX_STRIDE) : 1;
    this.countdown = this.stride;
    if (now - lastTurn < TURN_MS) return undefined;
    return new Promise((resolve) =>
      setImmediate(() => {
        lastTurn = performance.now();
        resolve();
      }),
    );
  }
}
