import { describe, expect, it } from 'vitest';
import { describeTransition, type Transition } from './narrator.js';

const KEY = 'demo-client/echo.v1.Echo/Say';
const ctx = { errRate: 0.25, detectMs: 200 };
const t = (o: Partial<Transition>): Transition => ({
  level: 'service',
  key: KEY,
  from: 'CLOSED',
  to: 'OPEN',
  cause: 'trip',
  samples: 265,
  failures: 88,
  errorRate: 0.332,
  conseErrors: 1,
  coolingMs: 950,
  ...o,
});

describe('describeTransition', () => {
  it('says why a service breaker opened and what it means for the calls', () => {
    expect(describeTransition(t({}), ctx)).toBe(
      `service breaker OPEN for ${KEY}: 33% of its last 265 calls failed (trips at 25%); ` +
        'calls are now rejected at once, without reaching the service; next probe in 0.9s',
    );
  });

  it('tells the probing and its outcome', () => {
    expect(describeTransition(t({ from: 'OPEN', to: 'HALFOPEN', cause: 'cooled' }), ctx)).toBe(
      `service breaker HALFOPEN for ${KEY}: cooling is over; one probe call goes through every 200 ms, the others are still rejected`,
    );
    expect(describeTransition(t({ from: 'HALFOPEN', to: 'OPEN', cause: 'probeFailed', coolingMs: 2000 }), ctx)).toBe(
      `service breaker OPEN for ${KEY} again: a probe failed; next probe in 2.0s (backoff)`,
    );
    expect(describeTransition(t({ from: 'HALFOPEN', to: 'CLOSED', cause: 'probeSucceeded' }), ctx)).toBe(
      `service breaker CLOSED for ${KEY}: probes succeeded; calls reach the service again (the window starts afresh)`,
    );
  });

  it('says an instance breaker moves calls to the other instances', () => {
    const i = (o: Partial<Transition>) => t({ level: 'instance', key: '127.0.0.1:41231', ...o });
    expect(describeTransition(i({ conseErrors: 3, samples: 104, errorRate: 0.03 }), ctx)).toBe(
      'instance breaker OPEN for 127.0.0.1:41231: 3 attempts or connections in a row failed; ' +
        'picks skip it, so calls go to the other instances; next probe in 0.9s',
    );
    expect(describeTransition(i({ conseErrors: 1, samples: 12, errorRate: 0.5 }), ctx)).toContain(
      '50% of its last 12 attempts failed',
    );
    expect(describeTransition(i({ from: 'OPEN', to: 'HALFOPEN' }), ctx)).toBe(
      'instance breaker HALFOPEN for 127.0.0.1:41231: cooling is over; the next pick of it sends a probe call',
    );
    expect(describeTransition(i({ from: 'HALFOPEN', to: 'CLOSED' }), ctx)).toBe(
      'instance breaker CLOSED for 127.0.0.1:41231: probes succeeded; it is back in rotation',
    );
  });

  it('names the cause of any other change', () => {
    expect(describeTransition(t({ from: 'OPEN', to: 'CLOSED', cause: 'reset' }), ctx)).toBe(
      `service breaker CLOSED for ${KEY}: was OPEN (reset)`,
    );
  });
});
