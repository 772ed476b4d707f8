/**
 * Client-side coalescing: messages are applied to the state as they arrive
 * (cheap: typed-array copies), but the view re-renders at most once per
 * animation frame, with the latest state. A burst of 100 messages costs one
 * paint, never a backlog of renders.
 */

export type Schedule = (cb: () => void) => void;

export class RenderCoalescer {
  private pending = false;
  private last = -Infinity;
  renders = 0;
  requests = 0;
  /**
   * ``minInterval()`` (ms): the least time between two renders. 0 keeps one
   * render per animation frame; a busy tab (see {@link LoadMeter}) asks for
   * more, so panels that update on their own (the detector image) get the
   * main thread between renders of the whole view.
   */
  constructor(
    private readonly render: () => void,
    private readonly schedule: Schedule,
    private readonly minInterval: () => number = () => 0,
    private readonly now: () => number = () => performance.now(),
    private readonly later: (cb: () => void, ms: number) => void = (cb, ms) => setTimeout(cb, ms),
  ) {}

  request(): void {
    this.requests++;
    if (this.pending) return;
    this.pending = true;
    const run = () => {
      this.pending = false;
      this.renders++;
      this.last = this.now();
      this.render();
    };
    const wait = this.last + this.minInterval() - this.now();
    if (wait > 0) this.later(() => this.schedule(run), wait);
    else this.schedule(run);
  }
}

/**
 * How busy the tab's main thread is, from long tasks (> 50 ms: renders,
 * WebGL paints). ``interval()`` is a render spacing that leaves the thread
 * about half free: twice the recent long-task time, decaying to 0 once the
 * tab has been idle for a second, at most ``max`` ms.
 */
export class LoadMeter {
  private ewma = 0;
  private lastLong = -Infinity;
  constructor(private readonly now: () => number = () => performance.now(), private readonly max = 500) {}

  longTask(duration: number): void {
    this.ewma = this.ewma ? 0.7 * this.ewma + 0.3 * duration : duration;
    this.lastLong = this.now();
  }

  interval(): number {
    if (this.now() - this.lastLong > 1000) this.ewma = 0;
    return Math.min(this.max, 2 * this.ewma);
  }

  /** Feed from the browser's long-task timing, where it has one; returns a stop function. */
  observe(): () => void {
    if (typeof PerformanceObserver === 'undefined' || !PerformanceObserver.supportedEntryTypes?.includes('longtask')) {
      return () => {};
    }
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.longTask(e.duration);
    });
    obs.observe({ type: 'longtask', buffered: false });
    return () => obs.disconnect();
  }
}

/** Reconnect delays: exponential with jitter, capped; reset after a good connection. */
export class Backoff {
  attempt = 0;
  constructor(private readonly base = 500, private readonly max = 10_000, private readonly rand: () => number = Math.random) {}
  next(): number {
    const d = Math.min(this.max, this.base * 2 ** this.attempt);
    this.attempt++;
    return Math.round(d * (0.75 + 0.5 * this.rand()));
  }
  reset(): void {
    this.attempt = 0;
  }
}
