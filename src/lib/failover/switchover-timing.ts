// How long a switchover flag holds, defined once for `skypg switchover` (on the primary's clock)
// and for every supervisor's decide() (on its own clock, with room for skew).

/**
 * The longest the supervisors stand aside for one switchover. `skypg switchover` refuses a
 * longer --timeout; a flag that claims more was not written by it and is not obeyed.
 */
export const switchoverTimeoutCeilingMs = 10 * 60_000;

/** A switchover timeout skypg obeys: positive, finite, at most the ceiling. */
export function switchoverTimeoutUsable(timeoutMs: number): boolean {
  return Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= switchoverTimeoutCeilingMs;
}

/**
 * Whether the flag has run out at `now`: by the clock that wrote it (skewMs 0), or by another
 * clock allowed to differ by skewMs. A flag with an unusable timeout has always run out.
 */
export function switchoverFlagExpired(
  flag: { startedAt: number; timeoutMs: number },
  now: number,
  skewMs = 0,
): boolean {
  return (
    !switchoverTimeoutUsable(flag.timeoutMs) || now - flag.startedAt >= flag.timeoutMs + skewMs
  );
}
