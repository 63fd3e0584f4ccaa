import net from 'node:net';

interface Pair {
  client: net.Socket;
  server: net.Socket;
  /** Held back while stalled, sent on heal (a stall: TCP open, nothing answers, then it heals). */
  held: { to: net.Socket; data: Buffer }[];
  state: 'pass' | 'stalled' | 'dead';
}

/**
 * A TCP proxy between the service and PostgreSQL that fails the way
 * networks and servers do: connections killed, new ones refused, a black
 * hole (accepted, never answered), every connection stalled and healed, and
 * a partition that freezes only the connections open at that moment.
 */
export class FaultProxy {
  private server = net.createServer((client) => this.accept(client));
  private pairs = new Set<Pair>();
  private newConnections: 'pass' | 'refuse' | 'blackhole' | 'stall' = 'pass';
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.killAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The URL with host and port replaced by the proxy's. */
  urlFor(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  get open(): number {
    return this.pairs.size;
  }

  /** Every connection reset, as a failover or a pooler restart does. */
  killAll(): void {
    for (const pair of this.pairs) this.drop(pair, true);
  }

  /** New connections are refused (reset at once) until `pass()`. */
  refuse(): void {
    this.newConnections = 'refuse';
  }

  /** New connections open but nothing ever answers until `pass()`. */
  blackhole(): void {
    this.newConnections = 'blackhole';
  }

  /** Every connection, open or new, stops forwarding until `heal()`: then what waited is delivered. */
  stall(): void {
    this.newConnections = 'stall';
    for (const pair of this.pairs) if (pair.state === 'pass') pair.state = 'stalled';
  }

  heal(): void {
    this.newConnections = 'pass';
    for (const pair of this.pairs) {
      if (pair.state !== 'stalled') continue;
      pair.state = 'pass';
      for (const { to, data } of pair.held.splice(0)) to.write(data);
    }
  }

  /** The connections open now never answer again (a dropped NAT entry); new ones work. */
  partition(): void {
    for (const pair of this.pairs) pair.state = 'dead';
  }

  /** New connections pass again (refuse/blackhole end). */
  pass(): void {
    this.newConnections = 'pass';
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.newConnections === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (this.newConnections === 'blackhole') {
      // Accepted, then silence; closed only when the client gives up.
      const pair: Pair = { client, server: new net.Socket(), held: [], state: 'dead' };
      this.pairs.add(pair);
      client.on('close', () => this.pairs.delete(pair));
      client.resume();
      return;
    }
    const server = net.connect(this.target);
    server.setNoDelay(true);
    client.setNoDelay(true);
    const pair: Pair = {
      client,
      server,
      held: [],
      state: this.newConnections === 'stall' ? 'stalled' : 'pass',
    };
    this.pairs.add(pair);
    const forward = (to: net.Socket) => (data: Buffer) => {
      if (pair.state === 'pass') to.write(data);
      else if (pair.state === 'stalled') pair.held.push({ to, data });
      // 'dead': dropped, as a partition does.
    };
    client.on('data', forward(server));
    server.on('data', forward(client));
    server.on('error', () => undefined);
    client.on('close', () => this.drop(pair, false));
    // Behind a partition the client never hears that the server side went away.
    server.on('close', () => pair.state !== 'dead' && this.drop(pair, false));
  }

  private drop(pair: Pair, reset: boolean): void {
    if (!this.pairs.delete(pair)) return;
    if (reset) {
      for (const socket of [pair.client, pair.server]) {
        try {
          socket.resetAndDestroy();
        } catch {
          socket.destroy(); // never connected (a black-holed client's placeholder)
        }
      }
    } else {
      pair.client.destroy();
      pair.server.destroy();
    }
  }
}
