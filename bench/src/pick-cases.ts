// The instance level's picker alone, in one process: grpc-js's own
// round_robin over stub instances, bare and wrapped (bench/src/stub-policy.ts),
// against pickers that do less and grpc-js's own outlier_detection, for scale.
import { Panel } from '@cbsuite/core';
import { grpc } from '@cbsuite/testkit/echo.js';
import { AttemptCall, CallViewPicker, Endpoint } from './call-view-picker.js';
import type { Case } from './core-cases.js';
import { type MeasureOptions, measureSync, median } from './harness.js';
import { LeanPicker, ViewPicker } from './scale-pickers.js';
import { grpcPicker } from './stub-policy.js';

// Internal modules of the built package (not exported by its index): typed from the
// sources, loaded from dist/ at run time, so typechecking needs no build.
const dist = '../../packages/grpc-interceptor/dist/esm';
const { InstanceLevel } = (await import(
  `${dist}/instance-level.js`
)) as typeof import('../../packages/grpc-interceptor/src/instance-level.js');
const { BreakerPicker } = (await import(
  `${dist}/instance-picker.js`
)) as typeof import('../../packages/grpc-interceptor/src/instance-picker.js');
const { BreakerLevel } = (await import(
  `${dist}/breaker-level.js`
)) as typeof import('../../packages/grpc-interceptor/src/breaker-level.js');
const { CallRegistry } = (await import(
  `${dist}/call-registry.js`
)) as typeof import('../../packages/grpc-interceptor/src/call-registry.js');

export const pickCases: Record<string, Case> = {
  'instance/pick': (o: MeasureOptions) => {
    // Each pick's attempt starts as grpc-js starts it, by createCall on the
    // pick's real subchannel, so the wrapped figures hold the view's work at
    // the start. Each picker has a round_robin of its own: one shared would
    // carry the inline caches of every variant.
    const ports = [1, 2, 3];
    const roundRobin = () => grpcPicker({ round_robin: {} }, ports);
    const child = roundRobin();
    const taggedChild = roundRobin();
    const outlierDetection = grpcPicker(
      { outlier_detection: { child_policy: [{ round_robin: {} }], failure_percentage_ejection: {} } },
      ports,
    );
    const level = new InstanceLevel(
      new BreakerLevel(
        'instance',
        // A classifier that counts every OK a success, as the built-in ones do (the suite's default).
        {
          panelOptions: {},
          defaults: undefined,
          makeTrip: () => () => false,
          getErrorType: () => 3,
          okIsSuccess: true,
        },
        'instanceCBConfig',
      ),
      new CallRegistry({ maxAttempts: 1, idempotent: () => false }),
    );
    level.calls.active = true;
    const wrapped = new BreakerPicker(roundRobin(), level, 3, grpc.experimental);
    const tagged = new BreakerPicker(roundRobin(), level, 3, grpc.experimental);
    const floor = new ViewPicker(roundRobin(), new Panel());
    const lean = new LeanPicker(roundRobin(), new Panel());
    const viewPanel = new Panel();
    const endpoints = (sc: grpc.experimental.SubchannelInterface) =>
      new Endpoint(sc, viewPanel) as unknown as grpc.experimental.SubchannelInterface;
    const callView = new CallViewPicker(grpcPicker({ round_robin: {} }, ports, endpoints));
    const callViewTagged = new CallViewPicker(grpcPicker({ round_robin: {} }, ports, endpoints));
    const callChild = roundRobin();
    const args = { metadata: new grpc.Metadata(), extraPickInfo: {} };
    const ri = { from: 'bench', to: 'echo', method: 'Say', path: '/echo.Echo/Say' };
    const listener = {
      onReceiveMetadata(_m: unknown) {},
      onReceiveMessage(_m: unknown) {},
      onReceiveStatus(_s: unknown) {},
    };
    // A stub's call keeps its listener; grpc-js's subchannel call gives it the status, then the load-balancing call ends.
    type Start = (m: grpc.Metadata, host: string, method: string, l: typeof listener) => { listener: typeof listener };
    const STATUS = { code: grpc.status.OK, details: '', metadata: new grpc.Metadata() };
    let sink = 0;
    // One attempt as grpc-js's load-balancing call runs it: pick, start, end.
    // Written out in each loop, not shared: one function would carry the
    // inline caches of every picker and its subchannels, and its speed would
    // depend on what the JIT made of that mix (the wrapped figure read 106 to
    // 191 ns from one process to the next).
    const real = (r: grpc.experimental.PickResult) =>
      r.subchannel?.getRealSubchannel() as unknown as { createCall: Start };
    // Alternating rounds, medians: the loop measured first would otherwise run on the cleanest inline caches.
    const ns: Record<
      | 'child'
      | 'floor'
      | 'lean'
      | 'wrapped'
      | 'taggedChild'
      | 'tagged'
      | 'outlierDetection'
      | 'callView'
      | 'callChild'
      | 'callViewTagged',
      number[]
    > = {
      child: [],
      floor: [],
      lean: [],
      wrapped: [],
      taggedChild: [],
      tagged: [],
      outlierDetection: [],
      callView: [],
      callChild: [],
      callViewTagged: [],
    };
    for (let round = 0; round < 3; round++) {
      // Untagged, as before the first tagged loop: the options of a call made outside the suite.
      args.metadata.setOptions({});
      ns.child.push(
        measureSync((n) => {
          for (let i = 0; i < n; i++) {
            const r = child.pick(args);
            const c = real(r).createCall(args.metadata, 'host', '/echo.Echo/Say', listener);
            r.onCallStarted?.();
            c.listener.onReceiveStatus(STATUS);
            r.onCallEnded?.(0, '', args.metadata);
            sink += r.pickResultType;
          }
        }, o),
      );
      ns.floor.push(
        measureSync((n) => {
          for (let i = 0; i < n; i++) {
            const r = floor.pick(args);
            const c = real(r).createCall(args.metadata, 'host', '/echo.Echo/Say', listener);
            r.onCallStarted?.();
            c.listener.onReceiveStatus(STATUS);
            r.onCallEnded?.(0, '', args.metadata);
            sink += r.pickResultType;
          }
        }, o),
      );
      ns.lean.push(
        measureSync((n) => {
          for (let i = 0; i < n; i++) {
            const r = lean.pick(args);
            const c = real(r).createCall(args.metadata, 'host', '/echo.Echo/Say', listener);
            r.onCallStarted?.();
            c.listener.onReceiveStatus(STATUS);
            r.onCallEnded?.(0, '', args.metadata);
            sink += r.pickResultType;
          }
        }, o),
      );
      ns.wrapped.push(
        measureSync((n) => {
          for (let i = 0; i < n; i++) {
            const r = wrapped.pick(args);
            const c = real(r).createCall(args.metadata, 'host', '/echo.Echo/Say', listener);
            r.onCallStarted?.();
            c.listener.onReceiveStatus(STATUS);
            r.onCallEnded?.(0, '', args.metadata);
            sink += r.pickResultType;
          }
        }, o),
      );
      // As the interceptor sends a call: its state is the metadata's options.
      // Both loops make, tag and end a call's state; their difference is what
      // the picker does with it.
      ns.taggedChild.push(
        measureSync((n) => {
          for (let i = 0; i < n; i++) {
            const call = level.calls.begin(ri, true) as NonNullable<ReturnType<typeof level.calls.begin>>;
            args.metadata.setOptions(call);
            const r = taggedChild.pick(args);
            const c = real(r).createCall(args.metadata, 'host', '/echo.Echo/Say', listener);
            r.onCallStarted?.();
            c.listener.onReceiveStatus(STATUS);
            r.onCallEnded?.(0, '', args.metadata);
            sink += r.pickResultType;
            level.calls.end(call);
          }
        }, o),
      );
      ns.tagged.push(
        measureSync((n) => {
          for (let i = 0; i < n; i++) {
            const call = level.calls.begin(ri, true) as NonNullable<ReturnType<typeof level.calls.begin>>;
            args.metadata.setOptions(call);
            const r = tagged.pick(args);
            const c = real(r).createCall(args.metadata, 'host', '/echo.Echo/Say', listener);
            r.onCallStarted?.();
            c.listener.onReceiveStatus(STATUS);
            r.onCallEnded?.(0, '', args.metadata);
            sink += r.pickResultType;
            level.calls.end(call);
          }
        }, o),
      );
      args.metadata.setOptions({});
      ns.outlierDetection.push(
        measureSync((n) => {
          for (let i = 0; i < n; i++) {
            const r = outlierDetection.pick(args);
            const c = real(r).createCall(args.metadata, 'host', '/echo.Echo/Say', listener);
            r.onCallStarted?.();
            c.listener.onReceiveStatus(STATUS);
            r.onCallEnded?.(0, '', args.metadata);
            sink += r.pickResultType;
          }
        }, o),
      );
      ns.callView.push(
        measureSync((n) => {
          for (let i = 0; i < n; i++) {
            const r = callView.pick(args);
            const c = real(r).createCall(args.metadata, 'host', '/echo.Echo/Say', listener);
            r.onCallStarted?.();
            c.listener.onReceiveStatus(STATUS);
            r.onCallEnded?.(0, '', args.metadata);
            sink += r.pickResultType;
          }
        }, o),
      );
      // As for the suite's tagged loops: both make and tag a call's record; their difference is the picker's.
      ns.callChild.push(
        measureSync((n) => {
          for (let i = 0; i < n; i++) {
            args.metadata.setOptions(new AttemptCall() as unknown as grpc.MetadataOptions);
            const r = callChild.pick(args);
            const c = real(r).createCall(args.metadata, 'host', '/echo.Echo/Say', listener);
            r.onCallStarted?.();
            c.listener.onReceiveStatus(STATUS);
            r.onCallEnded?.(0, '', args.metadata);
            sink += r.pickResultType;
          }
        }, o),
      );
      ns.callViewTagged.push(
        measureSync((n) => {
          for (let i = 0; i < n; i++) {
            args.metadata.setOptions(new AttemptCall() as unknown as grpc.MetadataOptions);
            const r = callViewTagged.pick(args);
            const c = real(r).createCall(args.metadata, 'host', '/echo.Echo/Say', listener);
            r.onCallStarted?.();
            c.listener.onReceiveStatus(STATUS);
            r.onCallEnded?.(0, '', args.metadata);
            sink += r.pickResultType;
          }
        }, o),
      );
      args.metadata.setOptions({});
    }
    if (sink < 0) console.log(sink);
    const bare = median(ns.child);
    const taggedAdded = median(ns.tagged.map((v, i) => v - (ns.taggedChild[i] as number)));
    return {
      child: bare,
      floor: median(ns.floor),
      lean: median(ns.lean),
      wrapped: median(ns.wrapped),
      added: median(ns.wrapped.map((v, i) => v - (ns.child[i] as number))),
      // The tagged attempt's picker cost: the bare pick plus what the picker added to a tagged one.
      tagged: bare + taggedAdded,
      taggedAdded,
      outlierDetection: median(ns.outlierDetection),
      callView: median(ns.callView),
      callViewTagged: bare + median(ns.callViewTagged.map((v, i) => v - (ns.callChild[i] as number))),
    };
  },
};
