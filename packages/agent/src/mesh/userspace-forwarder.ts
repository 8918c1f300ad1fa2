import type { Logger } from 'pino';
import type { Route } from './endpoint-table';
import type { Forwarder } from './forwarder';
import { TcpProxy } from './tcp-proxy';
import { UdpProxy } from './udp-proxy';

// A port that could not be opened (held by something else) is tried again this often.
const RETRY_MS = 5_000;

type Proxy = TcpProxy | UdpProxy;

/**
 * The first data plane: the agent itself accepts every ingress port on the
 * node's address and copies bytes to the backends (TcpProxy, UdpProxy).
 * Simple and portable; it costs CPU per byte, which a kernel forwarder would not.
 */
export class UserspaceForwarder implements Forwarder {
  private readonly proxies = new Map<string, Proxy>();
  private address = '';
  private routes: readonly Route[] = [];
  private retry?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly log: Logger) {}

  sync(address: string, routes: readonly Route[]): void {
    if (this.closed) return;
    if (address !== this.address) {
      for (const key of [...this.proxies.keys()]) this.stop(key);
      this.address = address;
    }
    this.routes = routes;
    const wanted = new Map(routes.map((route) => [route.key, route]));
    for (const key of [...this.proxies.keys()]) if (!wanted.has(key)) this.stop(key);
    for (const route of routes) {
      // An ingress port waits for the node's address; a VIP's route brings its own.
      if (!route.address && address === '') continue;
      let proxy = this.proxies.get(route.key);
      if (!proxy) {
        proxy = this.listen(route);
        this.proxies.set(route.key, proxy);
      }
      proxy.setBackends(route.backends, route.preferLocal ?? false);
    }
  }

  /** Open connections are cut with the listeners. */
  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    for (const key of [...this.proxies.keys()]) this.stop(key);
    return Promise.resolve();
  }

  private listen(route: Route): Proxy {
    const address = route.address ?? this.address;
    const onListening = (error?: Error): void => {
      if (!error) {
        this.log.info({ port: route.key, address, service: route.serviceName }, 'mesh: listening');
        return;
      }
      this.log.warn({ port: route.key, address, err: error.message }, 'mesh: cannot listen; will retry');
      if (this.proxies.get(route.key) === proxy) this.stop(route.key);
      this.retry ??= setTimeout(() => {
        this.retry = undefined;
        this.sync(this.address, this.routes);
      }, RETRY_MS);
    };
    const proxy: Proxy = route.protocol === 'udp'
      ? new UdpProxy(address, route.publishedPort, this.log, onListening)
      : new TcpProxy(address, route.publishedPort, this.log, onListening);
    return proxy;
  }

  private stop(key: string): void {
    this.proxies.get(key)?.close();
    this.proxies.delete(key);
  }
}
