import { describe, expect, it } from 'vitest';
import { DataBus } from './databus';
import { RunState } from './runstate';

describe('DataBus', () => {
  it('calls every listener with the state, and stops after unsubscribe', () => {
    const bus = new DataBus();
    const st = new RunState();
    const got: RunState[] = [];
    const off = bus.on((s) => got.push(s));
    bus.emit(st);
    off();
    bus.emit(st);
    expect(got).toEqual([st]);
  });
});
