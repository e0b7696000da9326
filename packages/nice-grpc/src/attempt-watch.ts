import { CIRCUIT_BREAK_KEY_TRAILER, CIRCUIT_BREAK_TRAILER, LOAD_SHED_TRAILER } from '@cbsuite/grpc-interceptor';
import { circuitBreakStatus } from '@cbsuite/grpc-interceptor/internals';
import { Metadata as GrpcMetadata, type StatusObject } from '@grpc/grpc-js';
import { type CallOptions, ClientError, type Metadata } from 'nice-grpc-common';

const OK = 0;
const CANCELLED = 1;
const UNKNOWN = 2;
const UNAVAILABLE = 14;
const INSTANCE_REJECTION = circuitBreakStatus('instance', undefined).details;

/**
 * What one attempt of a call shows of its end: whether response headers came
 * (and, while the attempt may still be retried, the headers held back from
 * the caller), its trailers, and from these its final status as grpc-js would
 * have given it to the interceptor.
 */
export class AttemptWatch {
  /** Whether response headers arrived from a server. */
  heard = false;
  /** Whether the caller was given the headers. */
  responded = false;
  /** Headers held back from the caller, until the attempt is known to be the last. */
  private held: Metadata | undefined;
  private trailers: Metadata | undefined;

  /**
   * `options` for this attempt: `metadata` as given, `onHeader` and
   * `onTrailer` watched; headers are held back while `hold()` is true.
   */
  options(options: CallOptions, metadata: Metadata | undefined, hold: () => boolean): CallOptions {
    return {
      ...options,
      metadata,
      onHeader: (header) => {
        this.heard = true;
        if (hold()) this.held = header;
        else {
          this.responded = true;
          options.onHeader?.(header);
        }
      },
      onTrailer: (trailer) => {
        this.trailers = trailer;
      },
    };
  }

  /** Gives the caller what was held back and the trailers, forged markers taken off, once the attempt is the last. */
  deliver(options: CallOptions, local: boolean): void {
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) {
      this.responded = true;
      options.onHeader?.(held);
    }
    const trailers = this.trailers;
    if (trailers === undefined) return;
    if (!local) {
      trailers.delete(CIRCUIT_BREAK_TRAILER);
      trailers.delete(CIRCUIT_BREAK_KEY_TRAILER);
      trailers.delete(LOAD_SHED_TRAILER);
    }
    options.onTrailer?.(trailers);
  }

  /**
   * The attempt's final status: OK without `err`; the code and details of a
   * `ClientError`; CANCELLED when the caller aborted; UNKNOWN for any other
   * error. An instance-level rejection (every instance tripped) is the
   * suite's own status, with its local mark: UNAVAILABLE with Kitex's text
   * and the marker trailer, made by grpc-js without hearing from a server
   * (no headers, no content-type).
   */
  status(err: unknown, aborted: boolean): StatusObject {
    const metadata = toGrpcMetadata(this.trailers);
    if (err === undefined) return { code: OK, details: '', metadata };
    const e = err as { name?: unknown; message?: unknown };
    if (err instanceof ClientError) {
      if (this.localInstanceRejection(err.code, err.details, metadata))
        return circuitBreakStatus('instance', undefined);
      return { code: err.code as number, details: err.details, metadata };
    }
    if (aborted || e.name === 'AbortError') return { code: CANCELLED, details: 'Cancelled on client', metadata };
    return { code: UNKNOWN, details: typeof e.message === 'string' ? e.message : String(err), metadata };
  }

  private localInstanceRejection(code: number, details: string, md: GrpcMetadata): boolean {
    if (code !== UNAVAILABLE || details !== INSTANCE_REJECTION || this.heard) return false;
    return md.get(CIRCUIT_BREAK_TRAILER)[0] === 'instance' && md.get('content-type').length === 0;
  }
}

/** A nice-grpc Metadata as a grpc-js one, for the suite's classifier. */
function toGrpcMetadata(md: Metadata | undefined): GrpcMetadata {
  const out = new GrpcMetadata();
  if (md === undefined) return out;
  for (const [key, values] of md) {
    for (const v of values) {
      try {
        out.add(key, typeof v === 'string' ? v : Buffer.from(v));
      } catch {
        // A key grpc-js refuses is left out: the classifier reads only what grpc-js could carry.
      }
    }
  }
  return out;
}
