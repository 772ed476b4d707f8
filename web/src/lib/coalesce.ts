/**
 * Client-side coalescing: messages are applied to the state as they arrive
 * (cheap: typed-array copies), but the view re-renders at most once per
 * animation frame, with the latest state. A burst of 100 messages costs one
 * paint, never a backlog of renders.
 */

export type Schedule = (cb: () => void) => void;

export class RenderCoalescer {
  private pending = false;
  renders = 0;
  requests = 0;
  constructor(private readonly render: () => void, private readonly schedule: Schedule) {}

  request(): void {
    this.requests++;
    if (this.pending) return;
    this.pending = true;
    this.schedule(() => {
      this.pending = false;
      this.renders++;
      this.render();
    });
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
