// grpc-js's own load-balancing policies, run for real over stub subchannels
// that are READY from the start: the pickers they hand the channel are
// grpc-js's, so a picker benchmark measures grpc-js's round_robin and
// outlier_detection, not a stand-in. A stub's call is an object that keeps
// the listener it was made with, as grpc-js's subchannel calls do, with
// grpc-js's two methods on its prototype.
import { grpc } from '@cbsuite/testkit/echo.js';

type X = typeof grpc.experimental;
type Picker = grpc.experimental.Picker;

class StubCall {
  constructor(readonly listener: unknown) {}
  cancelWithStatus(): void {}
  onDisconnect(): void {}
}

/** A subchannel to `address` that is READY and healthy, whose calls are {@link StubCall}s. */
function stubSubchannel(address: string): grpc.experimental.SubchannelInterface {
  const sc = {
    getAddress: () => address,
    getRealSubchannel: () => sc,
    createCall: (_m: unknown, _h: unknown, _me: unknown, listener: unknown) => new StubCall(listener),
    getConnectivityState: () => grpc.connectivityState.READY,
    addConnectivityStateListener() {},
    removeConnectivityStateListener() {},
    startConnecting() {},
    throttleKeepalive() {},
    ref() {},
    unref() {},
    getChannelzRef: () => ({ kind: 'subchannel', id: 1, name: address }),
    isHealthy: () => true,
    addHealthStateWatcher() {},
    removeHealthStateWatcher() {},
    addDataWatcher() {},
    realSubchannelEquals: (other: grpc.experimental.SubchannelInterface) =>
      (other.getRealSubchannel() as unknown) === sc,
    getCallCredentials: () => grpc.credentials.createEmpty(),
    getChannel: () => ({}),
  };
  return sc as unknown as grpc.experimental.SubchannelInterface;
}

/**
 * The READY picker of grpc-js's policy for `config` (a service config's
 * load-balancing entry, such as `{ round_robin: {} }`) over `ports` on
 * 127.0.0.1, each a stub subchannel, handed to the policy through `wrap`
 * (as a parent policy's helper may wrap the subchannels it creates). Throws
 * when the policy did not get READY.
 */
export function grpcPicker(
  config: Parameters<X['selectLbConfigFromList']>[0][number],
  ports: readonly number[],
  wrap: (sc: grpc.experimental.SubchannelInterface) => grpc.experimental.SubchannelInterface = (sc) => sc,
): Picker {
  const x: X = grpc.experimental;
  let picker: Picker | undefined;
  let ready = false;
  const helper = {
    createSubchannel: (address: grpc.experimental.SubchannelAddress) =>
      wrap(stubSubchannel(x.subchannelAddressToString(address))),
    updateState: (state: grpc.connectivityState, p: Picker) => {
      ready = state === grpc.connectivityState.READY;
      picker = p;
    },
    requestReresolution() {},
    addChannelzChild() {},
    removeChannelzChild() {},
  } as unknown as grpc.experimental.ChannelControlHelper;
  const typed = x.selectLbConfigFromList([config]);
  if (typed === null) throw new Error(`grpc-js has no policy for ${JSON.stringify(config)}`);
  const policy = new x.ChildLoadBalancerHandler(helper);
  const endpoints = ports.map((port) => ({ addresses: [{ host: '127.0.0.1', port }] }));
  const update = policy.updateAddressList as (...a: unknown[]) => unknown;
  update.call(policy, { ok: true, value: endpoints }, typed, {}, '');
  if (!ready || picker === undefined) throw new Error(`${JSON.stringify(config)} did not get READY over stubs`);
  return picker;
}
