import { peerIdentity } from './peer-identity';
import type { TlsIdentity } from './grpc-credentials';
import type { RenewableIdentity } from './renewable-identity';
import { certificateLife, renewalDelayMs } from './renewal-timing';

/** What the renewer says; pino's logger fits. Never given a key or a token. */
export interface RenewalLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface RenewerOptions {
  identity: RenewableIdentity;
  /** Gets a new identity for the current one (a new key, the same node id and role). */
  renew: (current: TlsIdentity) => Promise<TlsIdentity>;
  /** Stores a new identity before it is used: a restart must find the certificate in use. */
  store: (identity: TlsIdentity) => void;
  /** After the new identity is in use. */
  onRenewed?: (identity: TlsIdentity) => void;
  log: RenewalLog;
  /** What a node whose certificate expired must do, for the log line that says so. */
  rejoinHint: string;
  /** The cluster's certificate lifetime where this node can read it (a member): a shorter one applies at once. */
  lifetimeCap?: () => number;
  now?: () => number;
  random?: () => number;
}

/** A failed renewal is tried again this soon, or sooner when the certificate expires before. */
const RETRY_MS = 5_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Renews this node's certificate on its own, at a random point between 50%
 * and 80% of its life, and keeps trying after a failure until it expires.
 * The new certificate is stored, then put in use (RenewableIdentity.replace).
 */
export class CertificateRenewer {
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private toldExpired = false;
  private renewing = false;

  constructor(private readonly options: RenewerOptions) {}

  start(): void {
    this.stopped = false;
    this.scheduleNext();
  }

  /** Schedules the next renewal anew: after the cluster's certificate lifetime changed. */
  reschedule(): void {
    if (!this.stopped && !this.renewing) this.scheduleNext();
  }

  private scheduleNext(): void {
    this.schedule(renewalDelayMs(this.options.identity.current.certPem, this.now(), this.options.random, this.options.lifetimeCap?.()));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const dueAt = this.now() + delayMs;
    // Node fires a timer longer than about 24.8 days at once: a 90-day certificate waits in steps.
    this.timer = setTimeout(() => {
      const left = dueAt - this.now();
      if (left > 0) this.schedule(left);
      else void this.attempt();
    }, Math.min(delayMs, MAX_TIMER_MS));
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    const { identity, log } = this.options;
    const current = identity.current;
    let renewed: TlsIdentity;
    this.renewing = true;
    try {
      renewed = await this.options.renew(current);
    } catch (error) {
      this.renewing = false;
      if (this.stopped) return;
      const { expiresAt } = certificateLife(current.certPem);
      const left = expiresAt - this.now();
      if (left <= 0) {
        if (!this.toldExpired) log.error({ expiredAt: new Date(expiresAt).toISOString() }, `the node certificate expired before it could be renewed: ${this.options.rejoinHint}`);
        this.toldExpired = true;
      } else {
        log.warn({ err: (error as Error).message, expiresInMs: left }, 'certificate renewal failed; trying again');
      }
      this.schedule(left > 0 ? Math.min(RETRY_MS, Math.max(100, left / 4)) : RETRY_MS);
      return;
    }
    this.renewing = false;
    if (this.stopped) return;
    this.options.store(renewed);
    identity.replace(renewed);
    this.toldExpired = false;
    const { expiresAt } = certificateLife(renewed.certPem);
    log.info({ certificateRole: peerIdentity(renewed.certPem)?.role, expiresAt: new Date(expiresAt).toISOString() }, 'node certificate renewed');
    this.options.onRenewed?.(renewed);
    this.scheduleNext();
  }
}
