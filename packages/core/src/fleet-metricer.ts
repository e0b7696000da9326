import type { FleetView } from './fleet-link.js';
import { type Metricer, rate } from './metricer.js';

/**
 * A breaker's own window plus the rest of the fleet's counts for the same
 * key: what a synced breaker's trip func sees. `conseErrors` and
 * `conseTimeMs` stay this node's own.
 */
export class FleetMetricer implements Metricer {
  view: FleetView | undefined = undefined;

  constructor(private readonly local: Metricer) {}

  successes(): number {
    return this.local.successes() + (this.view?.successes ?? 0);
  }
  failures(): number {
    return this.local.failures() + (this.view?.failures ?? 0);
  }
  timeouts(): number {
    return this.local.timeouts() + (this.view?.timeouts ?? 0);
  }
  slowCalls(): number {
    return this.local.slowCalls() + (this.view?.slowCalls ?? 0);
  }
  samples(): number {
    return this.successes() + this.failures() + this.timeouts();
  }
  errorRate(): number {
    return rate(this.failures() + this.timeouts(), this.samples());
  }
  slowRate(): number {
    return rate(this.slowCalls(), this.samples());
  }
  conseErrors(): number {
    return this.local.conseErrors();
  }
  conseTimeMs(): number {
    return this.local.conseTimeMs();
  }
}
