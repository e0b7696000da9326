import { checkKeys, OptionRangeError, OptionTypeError } from '@cbsuite/core';
import type { ChannelOptions } from '@grpc/grpc-js';
import * as installedGrpc from '@grpc/grpc-js';
import { grpcVersionOf } from './grpc-compat.js';
import type { InstanceLevel } from './instance-level.js';
import { INSTANCE_LEVEL_OPTION, INSTANCE_POLICY_NAME, registerInstanceBreakerPolicy } from './instance-policy.js';

/** Child policies the instance policy may wrap. */
export type ChildPolicy = 'round_robin' | 'weighted_round_robin' | 'pick_first' | readonly object[];

/** Options of {@link CBSuite.channelOptions}. */
export interface ChannelOptionsInput {
  /**
   * The policy the instance breaker wraps. Default `round_robin`.
   * `weighted_round_robin` (grpc-js 1.14+) works the same way. With `pick_first` every call
   * goes to one instance: when its breaker trips there is no other to pick,
   * so calls fail fast until it closes.
   */
  readonly childPolicy?: ChildPolicy;
  /** More service config for the channel (for example `methodConfig`); its `loadBalancingConfig` is replaced. */
  readonly serviceConfig?: Record<string, unknown>;
  /** The grpc-js module your clients are built with, if it is not the copy this package resolves. */
  readonly grpc?: typeof installedGrpc;
}

const INPUT_NAMES = Object.keys({
  childPolicy: true,
  serviceConfig: true,
  grpc: true,
} satisfies Record<keyof ChannelOptionsInput, true>);

/**
 * Channel options that run the `cbsuite_instance_cb` policy over the child
 * policy and hand it `instance`. Registers the policy in the grpc-js copy
 * (idempotent). Throws `OptionTypeError`/`OptionRangeError` naming a bad field.
 */
export function instanceChannelOptions(input: ChannelOptionsInput, instance: InstanceLevel): ChannelOptions {
  const o = checkKeys('channelOptions options', input, INPUT_NAMES) as ChannelOptionsInput;
  const grpc = o.grpc === undefined ? installedGrpc : o.grpc;
  if (typeof grpc?.experimental?.registerLoadBalancerType !== 'function') {
    throw new OptionTypeError('grpc', grpc, 'must be the @grpc/grpc-js module');
  }
  const child = o.childPolicy === undefined ? 'round_robin' : o.childPolicy;
  let childPolicy: readonly object[];
  if (child === 'round_robin' || child === 'weighted_round_robin' || child === 'pick_first')
    childPolicy = [{ [child]: {} }];
  else if (Array.isArray(child)) childPolicy = child;
  else {
    const reason = 'must be round_robin, weighted_round_robin, pick_first or an array of LB configs';
    throw new OptionTypeError('childPolicy', child, reason);
  }
  const extra = o.serviceConfig === undefined ? {} : o.serviceConfig;
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
    throw new OptionTypeError('serviceConfig', extra, 'must be an object');
  }
  registerInstanceBreakerPolicy(grpc);
  if (typeof child === 'string' && !grpc.experimental.isLoadBalancerNameRegistered(child)) {
    const version = grpcVersionOf(grpc) ?? '(unknown version)';
    const reason = `is not in @grpc/grpc-js ${version} (weighted_round_robin came in 1.14.0)`;
    throw new OptionRangeError('childPolicy', child, reason);
  }
  return {
    'grpc.service_config': JSON.stringify({
      ...extra,
      loadBalancingConfig: [{ [INSTANCE_POLICY_NAME]: { child_policy: childPolicy } }],
    }),
    // A DNS TXT record must not replace the policy.
    'grpc.service_config_disable_resolution': 1,
    // Subchannels of their own, so that a connection failure is counted once per suite.
    'grpc.use_local_subchannel_pool': 1,
    [INSTANCE_LEVEL_OPTION]: instance,
  };
}
