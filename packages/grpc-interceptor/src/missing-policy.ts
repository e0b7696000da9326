import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { INSTANCE_POLICY_NAME } from './instance-policy.js';
import type { RPCInfo } from './rpc-info.js';

/** The trailer on the status of calls refused while the suite is misconfigured. */
const MISCONFIGURED_TRAILER = 'x-cbsuite-misconfigured';

/**
 * The fault reported when a call of the suite reached a server through a
 * channel that does not run the instance policy: why, and the fix.
 */
export function missingPolicyError(ri: RPCInfo): Error {
  return new Error(
    `cbsuite: a call of ${ri.path} reached a server through a channel that does not run the ` +
      `"${INSTANCE_POLICY_NAME}" policy, so grpc-js fell back to pick_first and the instance-level breaker is off. ` +
      'Usually the policy is registered in another copy of @grpc/grpc-js than the one this channel uses. Fix: pass ' +
      'your grpc module, cbs.channelOptions({ grpc }) or registerInstanceBreakerPolicy(grpc), before creating the ' +
      'client; (a channel meant to be service-level only needs a CBSuite whose channelOptions() it does not share).',
  );
}

/** The status every call of a suite fails with once `onMissingPolicy: 'fail'` found the policy missing. */
export function misconfiguredStatus(error: Error): StatusObject {
  const metadata = new Metadata();
  metadata.set(MISCONFIGURED_TRAILER, INSTANCE_POLICY_NAME);
  return { code: Status.FAILED_PRECONDITION, details: error.message, metadata };
}
