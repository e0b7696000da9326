/**
 * A clock returns the current time in milliseconds. Every time read in core
 * goes through the `now` option, so tests can drive time by hand.
 */
export type Clock = () => number;

/** `Date.now`, read on every call. */
export const systemClock: Clock = () => Date.now();

// Reading a clock costs 80-90 ns on some virtual machines, more than the rest
// of an `isAllowed` + `succeed` pair. The loop clock reads it once per
// event-loop turn, like the loop time libuv caches for Node's own timers, and
// again after REFRESH_EVERY reads in case one turn runs long.
const REFRESH_EVERY = 256;
const origin = performance.timeOrigin;
let cached = 0;
let reads = 0;
let armed = false;
const disarm = () => {
  armed = false;
};
const schedule: (f: () => void) => void =
  typeof setImmediate === 'function' ? (f) => setImmediate(f) : (f) => setTimeout(f, 0);

/**
 * The default clock: the process's monotonic clock, in epoch milliseconds
 * (`performance.timeOrigin + performance.now()`), cached for the current
 * event-loop turn and re-read at least every 256 reads. Steps of the system
 * clock (NTP corrections, a wrong clock set back) do not move it.
 *
 * Resolution is one loop turn, which is what an I/O outcome can observe
 * anyway. Inject `now` (for example `systemClock`, or a test clock) where
 * every read must be fresh.
 */
export const loopClock: Clock = () => {
  if (armed && ++reads < REFRESH_EVERY) return cached;
  cached = origin + performance.now();
  reads = 0;
  if (!armed) {
    armed = true;
    schedule(disarm);
  }
  return cached;
};
