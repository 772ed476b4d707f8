import { describe, expect, it } from 'vitest';
import { Backoff, RenderCoalescer } from './coalesce';

describe('RenderCoalescer', () => {
  it('renders once per frame however many updates arrive, with the latest state', () => {
    const frames: (() => void)[] = [];
    let state = 0;
    const painted: number[] = [];
    const c = new RenderCoalescer(() => painted.push(state), (cb) => frames.push(cb));
    for (let k = 1; k <= 100; k++) {
      state = k;
      c.request();
    }
    expect(frames.length).toBe(1);
    frames.shift()!();
    expect(painted).toEqual([100]);
    state = 101;
    c.request();
    c.request();
    frames.shift()!();
    expect(painted).toEqual([100, 101]);
    expect(c.renders).toBe(2);
    expect(c.requests).toBe(102);
  });
});

describe('Backoff', () => {
  it('grows exponentially to a cap and resets', () => {
    const b = new Backoff(500, 10_000, () => 0.5);
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([500, 1000, 2000, 4000, 8000, 10000]);
    b.reset();
    expect(b.next()).toBe(500);
  });
});
