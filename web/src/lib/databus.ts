/**
 * Data arrival, outside React: the run view emits here after every applied
 * live message, before the (coalesced, animation-frame) re-render. Panels
 * that must react at once -- the image view starts fetching the newest
 * detector frame -- subscribe here instead of waiting for the next render
 * of the whole run view, which on a busy tab can be a few hundred ms away.
 */
import { createContext } from 'react';
import type { RunState } from './runstate';

type DataListener = (st: RunState) => void;

export class DataBus {
  private listeners = new Set<DataListener>();

  on(fn: DataListener): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  emit(st: RunState): void {
    for (const fn of this.listeners) fn(st);
  }
}

export const DataBusContext = createContext<DataBus | null>(null);
