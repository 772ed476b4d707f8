import { describe, expect, it } from 'vitest';
import { Backoff, LoadMeter, RenderCoalescer } from './coalesce';

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

describe('RenderCoalescer with a minimum interval', () => {
  it('spaces renders by minInterval and still renders the latest state once', () => {
    let t = 0;
    const timers: [() => void, number][] = [];
    const frames: (() => void)[] = [];
    let renders = 0;
    const c = new RenderCoalescer(() => renders++, (cb) => frames.push(cb), () => 300, () => t,
      (cb, ms) => timers.push([cb, ms]));
    c.request();
    frames.shift()!();
    expect(renders).toBe(1);
    t = 100;
    c.request();
    c.request();
    expect(frames.length).toBe(0);
    expect(timers.map((x) => x[1])).toEqual([200]);
    t = 300;
    timers.shift()![0]();
    frames.shift()!();
    expect(renders).toBe(2);
  });
});

describe('LoadMeter', () => {
  it('asks for twice the recent long-task time, capped, and forgets after a second idle', () => {
    let t = 0;
    const m = new LoadMeter(() => t, 500);
    expect(m.interval()).toBe(0);
    m.longTask(100);
    expect(m.interval()).toBe(200);
    m.longTask(400);
    expect(m.interval()).toBe(380);
    m.longTask(2000);
    expect(m.interval()).toBe(500);
    t = 1500;
    expect(m.interval()).toBe(0);
  });
});
