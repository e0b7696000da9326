import { describe, expect, it } from 'vitest';
import { NO_PERMIT, PERMIT, type TransitionInfo } from './breaker.js';
import { FleetLink, type FleetView, type PanelSync } from './fleet-link.js';
import { Panel } from './panel.js';
import { State } from './state.js';
import { ManualClock } from './test-support/manual-clock.js';
import { rateTripFunc } from './trip-funcs.js';

/** A sync that only hands out links and logs transitions: what core calls, without a store. */
function recordingSync() {
  const links = new Map<string, FleetLink>();
  const pending: string[] = [];
  const transitions: string[] = [];
  const sync: PanelSync = {
    link: (_panel, key) => {
      const l = new FleetLink(key, (link) => pending.push(link.key));
      links.set(key, l);
      return l;
    },
    transition: (_panel, key, _from, to, info: TransitionInfo) =>
      transitions.push(`${key} ${to} ${info.cause} fleet=${info.fleet}`),
    unlink: (_panel, key) => transitions.push(`unlink ${key}`),
    detach: () => transitions.push('detached'),
  };
  return { sync, links, pending, transitions };
}

const view = (over: Partial<FleetView> = {}): FleetView => ({
  successes: 0,
  failures: 0,
  timeouts: 0,
  slowCalls: 0,
  failingNodes: 0,
  expiresAt: Number.POSITIVE_INFINITY,
  ...over,
});

function setup() {
  const clock = new ManualClock();
  const panel = new Panel({ now: clock.now, shouldTrip: rateTripFunc(0.5, 10) });
  const r = recordingSync();
  panel.attachSync(r.sync);
  return { clock, panel, ...r };
}

describe('FleetLink counting', () => {
  it('counts outcomes off the call path and queues a key once until taken', () => {
    const { panel, links, pending, clock } = setup();
    panel.succeed('k');
    panel.succeed('k', 5);
    panel.fail('k');
    panel.timeout('k');
    const l = links.get('k') as FleetLink;
    expect(pending).toEqual(['k']);
    expect(l.take()).toEqual({ successes: 2, failures: 1, timeouts: 1, slowCalls: 0, since: clock.t, generation: 0 });
    expect(l.take()).toMatchObject({ successes: 0, since: 0 });
    panel.succeed('k');
    expect(pending).toEqual(['k', 'k']);
  });

  it('links breakers made before the sync attached, and unlinks them on detach', () => {
    const clock = new ManualClock();
    const panel = new Panel({ now: clock.now });
    panel.succeed('early');
    const r = recordingSync();
    panel.attachSync(r.sync);
    panel.succeed('early');
    expect(r.links.get('early')?.successes).toBe(1);
    panel.succeed('gone');
    panel.removeBreaker('gone');
    panel.detachSync();
    panel.succeed('early');
    expect(r.links.get('early')?.successes).toBe(1);
    expect(r.transitions).toEqual(['unlink gone', 'detached']);
  });
});

describe('tripping with a fleet view', () => {
  it('trips on the fleet counts and opens for the fleet when enough nodes report errors', () => {
    const { panel, links, transitions } = setup();
    panel.succeed('k');
    const l = links.get('k') as FleetLink;
    l.view = view({ successes: 1, failures: 7, failingNodes: 1 });
    panel.fail('k');
    expect(panel.breaker('k')?.state()).toBe(State.Open);
    expect(panel.breaker('k')?.isFleetScoped()).toBe(true);
    expect(transitions).toEqual(['k 0 trip fleet=true']);
  });

  it('does not open when one node alone fails while the fleet succeeds (quorum 2)', () => {
    const { panel, links } = setup();
    panel.fail('k');
    (links.get('k') as FleetLink).view = view({ successes: 30, failingNodes: 0 });
    for (let i = 0; i < 8; i++) panel.fail('k');
    expect(panel.breaker('k')?.state()).toBe(State.Closed);
    panel.fail('k'); // its own 10 calls are all errors: it opens alone
    expect(panel.breaker('k')?.state()).toBe(State.Open);
    expect(panel.breaker('k')?.isFleetScoped()).toBe(false);
  });

  it('opens for the fleet on a local trip when the quorum is 1', () => {
    const { panel, links } = setup();
    panel.fail('k');
    const l = links.get('k') as FleetLink;
    l.quorum = 1;
    l.view = view({ successes: 30 });
    for (let i = 0; i < 9; i++) panel.fail('k');
    expect(panel.breaker('k')?.isFleetScoped()).toBe(true);
  });

  it('opens for the fleet with quorum 1 even before the first view arrives', () => {
    const { panel, links } = setup();
    panel.fail('k');
    (links.get('k') as FleetLink).quorum = 1;
    for (let i = 0; i < 9; i++) panel.fail('k');
    expect(panel.breaker('k')?.isFleetScoped()).toBe(true);
  });

  it('ignores a stale view and decides on its own counts', () => {
    const { panel, links, clock } = setup();
    panel.fail('k');
    (links.get('k') as FleetLink).view = view({ failures: 100, failingNodes: 5, expiresAt: clock.t });
    panel.fail('k');
    expect(panel.breaker('k')?.state()).toBe(State.Closed);
  });
});

describe('fleet probes and remote states', () => {
  function fleetOpen() {
    const s = setup();
    s.panel.fail('k');
    (s.links.get('k') as FleetLink).view = view({ failures: 20, failingNodes: 3 });
    s.panel.fail('k');
    expect(s.panel.breaker('k')?.isFleetScoped()).toBe(true);
    return s;
  }

  it('keeps rejecting after cooling while the gate says wait, and probes once it is this node', () => {
    const { panel, links, clock } = fleetOpen();
    const l = links.get('k') as FleetLink;
    l.gate = 'wait';
    clock.advance(5000);
    expect(panel.acquire('k')).toBe(NO_PERMIT);
    expect(l.wantsProbe).toBe(true);
    l.gate = 'mine';
    expect(panel.acquire('k')).toBeGreaterThan(PERMIT);
    expect(panel.breaker('k')?.state()).toBe(State.HalfOpen);
  });

  it('lets a local open probe on its own whatever the gate', () => {
    const { panel, links, clock } = setup();
    for (let i = 0; i < 10; i++) panel.fail('k');
    (links.get('k') as FleetLink).gate = 'wait';
    clock.advance(5000);
    expect(panel.acquire('k')).toBeGreaterThan(PERMIT);
  });

  it('reports probe results as fleet transitions', () => {
    const { panel, links, clock, transitions } = fleetOpen();
    (links.get('k') as FleetLink).gate = 'mine';
    clock.advance(5000);
    panel.succeed('k', undefined, panel.acquire('k'));
    clock.advance(200);
    panel.succeed('k', undefined, panel.acquire('k'));
    expect(transitions.slice(1)).toEqual(['k 1 cooled fleet=true', 'k 2 probeSucceeded fleet=true']);
  });

  it('forgets the closed episode: pending counts, the fleet view, and counts a failed flush would put back', () => {
    const { panel, links, clock } = fleetOpen();
    const l = links.get('k') as FleetLink;
    const inFlight = l.take();
    expect(inFlight).toMatchObject({ failures: 2, generation: 0 });
    l.gate = 'mine';
    clock.advance(5000);
    panel.succeed('k', undefined, panel.acquire('k'));
    clock.advance(200);
    panel.succeed('k', undefined, panel.acquire('k'));
    expect(panel.breaker('k')?.state()).toBe(State.Closed);
    expect(l.view).toBeUndefined();
    l.restore(inFlight);
    expect(l.take()).toMatchObject({ successes: 0, failures: 0, since: 0, generation: 1 });
    panel.fail('k');
    expect(panel.breaker('k')?.state()).toBe(State.Closed);
    expect(panel.getMetricer('k').failures()).toBe(1);
  });

  it('forgets the view and pending counts on a fleet close and on reset()', () => {
    const { panel, links } = fleetOpen();
    const l = links.get('k') as FleetLink;
    l.view = view({ failures: 20, failingNodes: 3 });
    expect(panel.breaker('k')?.applyFleetClose()).toBe(true);
    expect([l.view, l.failures]).toEqual([undefined, 0]);
    panel.fail('k');
    l.view = view({ failures: 5 });
    panel.breaker('k')?.reset();
    expect([l.view, l.failures]).toEqual([undefined, 0]);
  });

  it('applies a fleet open with the remaining cooling, and a fleet close', () => {
    const { panel, clock, transitions } = setup();
    const b = panel.getBreaker('k');
    expect(b.applyFleetOpen(1500, 5000, 2)).toBe(true);
    expect(b.state()).toBe(State.Open);
    expect(b.attempt()).toBe(2);
    expect(b.coolsAt()).toBe(clock.t + 1500);
    expect(b.applyFleetOpen(1500, 5000, 2)).toBe(false);
    panel.succeed('k');
    expect(b.applyFleetClose()).toBe(true);
    expect(b.state()).toBe(State.Closed);
    expect(b.applyFleetClose()).toBe(false);
    expect(transitions).toEqual(['k 0 remote fleet=true', 'k 2 remote fleet=true']);
  });

  it('does not let a fleet close end a local open, nor touch a forced mode', () => {
    const { panel } = setup();
    for (let i = 0; i < 10; i++) panel.fail('k');
    expect(panel.breaker('k')?.applyFleetClose()).toBe(false);
    expect(panel.breaker('k')?.state()).toBe(State.Open);
    panel.setMode('f', 'forcedOpen');
    expect(panel.breaker('f')?.applyFleetOpen(100, 100, 0)).toBe(false);
    expect(panel.breaker('f')?.applyFleetClose()).toBe(false);
  });
});
