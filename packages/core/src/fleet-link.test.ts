import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { describe, expect, it } from 'vitest';
import { FleetLink, type FleetPolicy, type Quorum, requiredNodes } from './fleet-link.js';
import type { PanelSync } from './fleet-sync.js';
import type { FleetView } from './fleet-view.js';
import { Panel } from './panel.js';
import { NO_PERMIT, PERMIT } from './permit.js';
import { State } from './state.js';
import type { TransitionInfo } from './transition.js';
import { consecutiveTripFunc, rateTripFunc } from './trip-funcs.js';

/** A sync that only hands out links and logs transitions: what core calls, without a store. */
function recordingSync(policy: FleetPolicy = { quorum: 2, recentMs: 1000 }) {
  const links = new Map<string, FleetLink>();
  const transitions: string[] = [];
  const sync: PanelSync = {
    link: (_panel, key, breaker) => {
      const l = new FleetLink(key, breaker, policy);
      links.set(key, l);
      return l;
    },
    transition: (_panel, key, _from, to, info: TransitionInfo) =>
      transitions.push(`${key} ${to} ${info.cause} fleet=${info.fleet}`),
    unlink: (_panel, key) => transitions.push(`unlink ${key}`),
    detach: () => transitions.push('detached'),
  };
  return { sync, links, transitions };
}

const view = (over: Partial<FleetView> = {}): FleetView => ({
  successes: 0,
  failures: 0,
  timeouts: 0,
  slowCalls: 0,
  failingNodes: 0,
  reportingNodes: 0,
  expiresAt: Number.POSITIVE_INFINITY,
  ...over,
});

function setup(quorum: Quorum = 2) {
  const clock = new ManualClock();
  const panel = new Panel({ now: clock.now, shouldTrip: rateTripFunc(0.5, 10) });
  const r = recordingSync({ quorum, recentMs: 1000 });
  panel.attachSync(r.sync);
  const link = (key = 'k') => {
    panel.getBreaker(key);
    return r.links.get(key) as FleetLink;
  };
  return { clock, panel, link, ...r };
}

describe('FleetLink counting', () => {
  it('counts outcomes off the call path until the sync takes them', () => {
    const { panel, link, clock } = setup();
    panel.succeed('k');
    panel.succeed('k', 5);
    panel.fail('k');
    panel.timeout('k');
    const l = link();
    expect(l.hasPending()).toBe(true);
    expect(l.take()).toEqual({ successes: 2, failures: 1, timeouts: 1, slowCalls: 0, since: clock.t, generation: 0 });
    expect(l.take()).toMatchObject({ successes: 0, since: 0 });
    expect(l.hasPending()).toBe(false);
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

describe('what a trip opens', () => {
  it('trips on the fleet counts and opens for the fleet when enough nodes are failing', () => {
    const { panel, link, transitions } = setup();
    panel.succeed('k');
    link().setView(view({ successes: 1, failures: 7, failingNodes: 1, reportingNodes: 2 }));
    panel.fail('k');
    expect(panel.breaker('k')?.state()).toBe(State.Open);
    expect(panel.breaker('k')?.isFleetScoped()).toBe(true);
    expect(transitions).toEqual(['k 0 trip fleet=true']);
  });

  it('opens for the fleet when its own window trips first and the others are failing too (a symmetric outage)', () => {
    const { panel, link } = setup();
    for (let i = 0; i < 10; i++) panel.succeed('k');
    // The others' counts lag one sync behind: their window is not at the trip yet, but they are failing.
    link().setView(view({ successes: 20, failures: 12, failingNodes: 2, reportingNodes: 3 }));
    for (let i = 0; i < 10; i++) panel.fail('k');
    expect(panel.breaker('k')?.state()).toBe(State.Open);
    expect(panel.breaker('k')?.isFleetScoped()).toBe(true);
  });

  it('opens alone when only this node fails, even when its calls dominate the fleet counts (quorum 2)', () => {
    const { panel, link } = setup();
    panel.fail('k');
    link().setView(view({ successes: 3, failingNodes: 0, reportingNodes: 4 }));
    for (let i = 0; i < 5; i++) panel.fail('k');
    expect(panel.breaker('k')?.state()).toBe(State.Closed);
    panel.fail('k'); // the fleet's window holds minSample calls and trips, but no other node is failing
    expect(panel.breaker('k')?.state()).toBe(State.Open);
    expect(panel.breaker('k')?.isFleetScoped()).toBe(false);
  });

  it('opens alone on the fleet window when this node fails but too few others do', () => {
    const { panel, link } = setup();
    for (let i = 0; i < 4; i++) panel.fail('k');
    link().setView(view({ successes: 2, failures: 3, failingNodes: 0, reportingNodes: 3 }));
    panel.fail('k');
    expect(panel.breaker('k')?.state()).toBe(State.Open);
    expect(panel.breaker('k')?.isFleetScoped()).toBe(false);
  });

  it('never opens a node whose own recent calls succeed, whatever the fleet counts say', () => {
    const { panel, link } = setup();
    for (let i = 0; i < 20; i++) panel.succeed('k');
    link().setView(view({ failures: 1_000_000, failingNodes: 50, reportingNodes: 50 }));
    panel.fail('k');
    expect(panel.breaker('k')?.state()).toBe(State.Closed);
  });

  it('judges its own recent calls by the trip func in force: a run of errors for a consecutive trip func', () => {
    const clock = new ManualClock();
    const panel = new Panel({ now: clock.now, shouldTrip: consecutiveTripFunc(3) });
    const r = recordingSync();
    panel.attachSync(r.sync);
    panel.succeed('k');
    const l = r.links.get('k') as FleetLink;
    expect(l.isFailing()).toBe(false);
    panel.fail('k');
    panel.fail('k');
    expect(l.isFailing()).toBe(false);
    panel.fail('k');
    expect(l.isFailing()).toBe(true);
  });

  it('counts only recent calls when judging whether this node is failing', () => {
    const { panel, link, clock } = setup();
    for (let i = 0; i < 5; i++) panel.fail('k');
    expect(link().isFailing()).toBe(true);
    clock.advance(1100);
    panel.succeed('k');
    expect(link().isFailing()).toBe(false);
    expect(panel.getMetricer('k').errorRate()).toBeGreaterThan(0.5);
  });

  it('takes a share quorum of the reporting nodes, with its floor', () => {
    expect(requiredNodes(3, 100)).toBe(3);
    expect(requiredNodes({ share: 0.5, min: 2 }, 2)).toBe(2);
    expect(requiredNodes({ share: 0.5, min: 2 }, 9)).toBe(5);
    const { panel, link } = setup({ share: 0.5, min: 2 });
    panel.fail('k');
    link().setView(view({ failures: 30, failingNodes: 3, reportingNodes: 10 }));
    panel.fail('k');
    expect(panel.breaker('k')?.isFleetScoped()).toBe(false);
    const b = setup({ share: 0.5, min: 2 });
    b.panel.fail('k');
    b.link().setView(view({ failures: 30, failingNodes: 4, reportingNodes: 10 }));
    b.panel.fail('k');
    expect(b.panel.breaker('k')?.isFleetScoped()).toBe(true);
  });

  it('opens for the fleet on a local trip when the quorum is 1', () => {
    const { panel, link } = setup(1);
    panel.fail('k');
    link().setView(view({ successes: 30 }));
    for (let i = 0; i < 9; i++) panel.fail('k');
    expect(panel.breaker('k')?.isFleetScoped()).toBe(true);
  });

  it('opens for the fleet with quorum 1 even before the first view arrives', () => {
    const { panel } = setup(1);
    for (let i = 0; i < 10; i++) panel.fail('k');
    expect(panel.breaker('k')?.isFleetScoped()).toBe(true);
  });

  it('ignores a stale view and decides on its own counts', () => {
    const { panel, link, clock } = setup();
    panel.fail('k');
    link().setView(view({ failures: 100, failingNodes: 5, expiresAt: clock.t }));
    panel.fail('k');
    expect(panel.breaker('k')?.state()).toBe(State.Closed);
  });
});

describe('fleet probes and remote states', () => {
  function fleetOpen() {
    const s = setup();
    s.panel.fail('k');
    s.link().setView(view({ failures: 20, failingNodes: 3, reportingNodes: 4 }));
    s.panel.fail('k');
    expect(s.panel.breaker('k')?.isFleetScoped()).toBe(true);
    return s;
  }

  it('keeps rejecting after cooling while the gate says wait, and probes once it is this node', () => {
    const { panel, link, clock } = fleetOpen();
    const l = link();
    l.setGate('wait');
    clock.advance(5000);
    expect(panel.acquire('k')).toBe(NO_PERMIT);
    expect(l.wantsProbe).toBe(true);
    l.setGate('mine');
    expect(l.wantsProbe).toBe(false);
    expect(panel.acquire('k')).toBeGreaterThan(PERMIT);
    expect(panel.breaker('k')?.state()).toBe(State.HalfOpen);
  });

  it('lets a local open probe on its own whatever the gate', () => {
    const { panel, link, clock } = setup();
    for (let i = 0; i < 10; i++) panel.fail('k');
    link().setGate('wait');
    clock.advance(5000);
    expect(panel.acquire('k')).toBeGreaterThan(PERMIT);
  });

  it('reports probe results as fleet transitions', () => {
    const { panel, link, clock, transitions } = fleetOpen();
    link().setGate('mine');
    clock.advance(5000);
    panel.succeed('k', undefined, panel.acquire('k'));
    clock.advance(200);
    panel.succeed('k', undefined, panel.acquire('k'));
    expect(transitions.slice(1)).toEqual(['k 1 cooled fleet=true', 'k 2 probeSucceeded fleet=true']);
  });

  it('forgets the closed episode: pending counts and the fleet view, and moves to a new generation', () => {
    const { panel, link, clock } = fleetOpen();
    const l = link();
    const inFlight = l.take();
    expect(inFlight).toMatchObject({ failures: 2, generation: 0 });
    l.setGate('mine');
    clock.advance(5000);
    panel.succeed('k', undefined, panel.acquire('k'));
    clock.advance(200);
    panel.succeed('k', undefined, panel.acquire('k'));
    expect(panel.breaker('k')?.state()).toBe(State.Closed);
    expect(l.freshView(clock.t)).toBeUndefined();
    expect(l.take()).toMatchObject({ successes: 0, failures: 0, since: 0, generation: 1 });
    panel.fail('k');
    expect(panel.breaker('k')?.state()).toBe(State.Closed);
    expect(panel.getMetricer('k').failures()).toBe(1);
  });

  it('forgets the view and pending counts on a fleet close and on reset()', () => {
    const { panel, link, clock } = fleetOpen();
    const l = link();
    l.setView(view({ failures: 20, failingNodes: 3 }));
    expect(panel.breaker('k')?.applyFleetClose()).toBe(true);
    expect([l.freshView(clock.t), l.failures]).toEqual([undefined, 0]);
    panel.fail('k');
    l.setView(view({ failures: 5 }));
    panel.breaker('k')?.reset();
    expect([l.freshView(clock.t), l.failures]).toEqual([undefined, 0]);
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

describe('badness and the failing threshold', () => {
  it('measures the recent share of failed or slow calls, and finds where the trip func starts to trip', () => {
    const { panel, link } = setup();
    expect(link().badness()).toBeUndefined();
    for (let i = 0; i < 3; i++) panel.succeed('k');
    panel.fail('k');
    expect(link().badness()).toBe(0.25);
    expect(link().failingThreshold()).toBe(0.5);
  });

  it('follows the trip func in force, and has none for a trip func on runs of errors alone', () => {
    const clock = new ManualClock();
    let rate = 0.25;
    const panel = new Panel({ now: clock.now, shouldTripWithKey: () => rateTripFunc(rate, 200) });
    const r = recordingSync();
    panel.attachSync(r.sync);
    panel.succeed('k');
    const l = r.links.get('k') as FleetLink;
    expect(l.failingThreshold()).toBe(0.25);
    rate = 0.1;
    expect(l.failingThreshold()).toBe(0.1);
    const runs = new Panel({ now: clock.now, shouldTrip: consecutiveTripFunc(5) });
    const r2 = recordingSync();
    runs.attachSync(r2.sync);
    runs.succeed('k');
    expect((r2.links.get('k') as FleetLink).failingThreshold()).toBeUndefined();
  });
});

describe('promoting an open to the fleet', () => {
  it("makes an open decided alone the fleet's when the quorum is met, keeping its cooling", () => {
    const { panel, link, clock, transitions } = setup();
    for (let i = 0; i < 10; i++) panel.fail('k');
    const b = panel.breaker('k');
    expect(b?.isFleetScoped()).toBe(false);
    expect(link().quorumMet(clock.t)).toBe(false);
    link().setView(view({ failingNodes: 1, reportingNodes: 3 }));
    expect(link().quorumMet(clock.t)).toBe(true);
    const coolsAt = b?.coolsAt();
    expect(b?.promoteToFleet()).toBe(true);
    expect([b?.isFleetScoped(), b?.coolsAt(), b?.promoteToFleet()]).toEqual([true, coolsAt, false]);
    expect(transitions).toEqual(['k 0 trip fleet=false']);
    panel.setMode('f', 'forcedOpen');
    expect(panel.breaker('f')?.promoteToFleet()).toBe(false);
  });
});
