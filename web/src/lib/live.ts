/** A websocket on the live channel that reconnects with backoff. */
import { Backoff } from './coalesce';
import { decodeMessage, type Message } from './protocol';

export type ConnState = 'connecting' | 'open' | 'closed' | 'failed';

function wsUrl(path: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${path}`;
}

export class LiveSocket {
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private backoff = new Backoff();
  /** true after a fatal error (e.g. unknown run): no reconnect */
  fatal = false;

  constructor(
    private readonly path: string,
    private readonly onMessage: (m: Message, fresh: boolean) => void,
    private readonly onState: (s: ConnState, detail?: string) => void,
  ) {
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    this.onState('connecting');
    const ws = new WebSocket(wsUrl(this.path));
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let first = true;
    ws.onopen = () => {
      this.backoff.reset();
      this.onState('open');
    };
    ws.onmessage = (ev) => {
      const m = decodeMessage(ev.data as ArrayBuffer);
      if (m.t === 'error') this.fatal = (m as any).code === 404 || (m as any).code === 400;
      this.onMessage(m, first);
      first = false;
    };
    ws.onclose = () => {
      this.ws = null;
      if (this.closed) return;
      if (this.fatal) {
        this.onState('failed');
        return;
      }
      const delay = this.backoff.next();
      this.onState('closed', `reconnecting in ${(delay / 1000).toFixed(1)} s`);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close();
  }
}
