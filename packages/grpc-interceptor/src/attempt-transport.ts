import type { StatusObject } from '@grpc/grpc-js';
import { carriesContentType } from './classify.js';
import type { AttemptReach } from './retry-rule.js';

/**
 * How the stream of an attempt ended, as the transport saw it:
 *
 * - `server`: the server sent the status (trailers, or a trailers-only response);
 * - `refused`: the server's HTTP/2 layer refused the stream (`REFUSED_STREAM`,
 *   also what a stream cut by a `GOAWAY` gets): its application never saw it;
 * - `reset`: the stream was reset (`RST_STREAM` other than refused, a server's
 *   forced shutdown included) or ended without a gRPC status (a proxy's HTTP
 *   error): the server may have processed it;
 * - `disconnect`: the connection was lost under the stream;
 * - `local`: this client ended it (the caller cancelled, or the deadline passed).
 */
export type StreamEnd = 'server' | 'refused' | 'reset' | 'disconnect' | 'local';

/** What the transport observed of one attempt (of its last pick, when grpc-js picked again). */
export interface AttemptTransport {
  /** The picker of the suite saw the attempt. */
  picked: boolean;
  /** A stream was opened on an instance. */
  started: boolean;
  /** How the stream ended; undefined while it runs, or when none was opened. */
  end: StreamEnd | undefined;
  /** The status the subchannel call ended with. */
  status: StatusObject | undefined;
}

/** A fresh record, for an attempt about to be made. */
export function newAttemptTransport(): AttemptTransport {
  return { picked: false, started: false, end: undefined, status: undefined };
}

/**
 * Whether a server sent `status`: what the transport saw (`end`), when the
 * picker observed the attempt; otherwise an OK, a status after response
 * headers (`heard`), or a trailers-only response (it carries a content-type).
 */
export function sentByServer(end: StreamEnd | undefined, heard: boolean, status: StatusObject): boolean {
  if (end !== undefined) return end === 'server';
  return heard || status.code === 0 || carriesContentType(status);
}

/** How far an attempt got, as the picker's view of its transport saw it (what the retry rule decides from). */
export function reachOf(t: AttemptTransport): AttemptReach {
  if (!t.picked) return 'unknown';
  if (!t.started) return 'unsent';
  switch (t.end) {
    case 'server':
      return 'answered';
    case 'refused':
      return 'refused';
    case 'reset':
    case 'disconnect':
      return 'lost';
    case 'local':
      return 'local';
    default:
      return 'unknown';
  }
}
