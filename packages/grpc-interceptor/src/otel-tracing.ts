import { OptionTypeError } from '@cbsuite/core';
import type { Span } from '@opentelemetry/api';
import type { CBSuite } from './cb-suite.js';
import { circuitBreakLevel } from './circuit-break-error.js';
import type { Level } from './classify.js';
import { otelApi } from './otel-api.js';
import { causeLabel, plainStateLabel } from './tracked-suites.js';

/** The span event a rejected call adds to the active span. */
export const REJECTION_EVENT = 'cbsuite.rejection';
/** The span event a state change adds to the span active where it happens. */
export const STATE_CHANGE_EVENT = 'cbsuite.state_change';

function rejected(span: Span | undefined, level: Level, key: string): void {
  if (span === undefined || !span.isRecording()) return;
  span.setAttributes({ 'cbsuite.rejected_by': level, 'cbsuite.key': key });
  span.addEvent(REJECTION_EVENT, { 'cbsuite.level': level, 'cbsuite.key': key });
}

/**
 * Marks a suite's circuit breaking on OpenTelemetry spans (through
 * `@opentelemetry/api`, an optional peer dependency; it makes no spans of its
 * own):
 *
 * - a call a breaker rejected: the span active when the call was made (the
 *   gRPC instrumentation's client span, or yours) gets the attributes
 *   `cbsuite.rejected_by` (`service` or `instance`) and `cbsuite.key` (the
 *   call's service key), and an event `cbsuite.rejection` with
 *   `cbsuite.level` and `cbsuite.key`. A service rejection is marked as the
 *   call is made; an instance-level drop (every instance open) when the call
 *   ends, on the span that was active when it was made.
 * - a state change: the span active where it happens, if any, gets an event
 *   `cbsuite.state_change` with `cbsuite.level`, `cbsuite.key`,
 *   `cbsuite.from`, `cbsuite.to` (`closed`, `open`, `half_open`),
 *   `cbsuite.cause` and `cbsuite.fleet`.
 *
 * Returns a function that stops. Cheap when no span is active: the active
 * span is looked up once per call.
 *
 * @throws MissingPeerError when `@opentelemetry/api` is not installed;
 *   OptionTypeError when `cbs` is not a CBSuite.
 */
export function traceSuite(cbs: CBSuite): () => void {
  if (typeof (cbs as Partial<CBSuite> | null)?.observeCalls !== 'function') {
    throw new OptionTypeError('cbs', cbs, 'must be a CBSuite');
  }
  const { trace } = otelApi();
  const stopCalls = cbs.observeCalls({
    rejected: (key) => rejected(trace.getActiveSpan(), 'service', key),
    started: (key) => {
      const span = trace.getActiveSpan();
      if (span === undefined) return undefined;
      return {
        ended: (status) => {
          if (circuitBreakLevel(status) === 'instance') rejected(span, 'instance', key);
        },
      };
    },
  });
  const stopStates = cbs.onStateChange((e) => {
    const span = trace.getActiveSpan();
    if (span === undefined || !span.isRecording()) return;
    span.addEvent(STATE_CHANGE_EVENT, {
      'cbsuite.level': e.level,
      'cbsuite.key': e.key,
      'cbsuite.from': plainStateLabel(e.from),
      'cbsuite.to': plainStateLabel(e.to),
      'cbsuite.cause': causeLabel(e.cause),
      'cbsuite.fleet': e.fleet,
    });
  });
  return () => {
    stopCalls();
    stopStates();
  };
}
