import { constants as http2 } from 'node:http2';
import type { experimental, Metadata, StatusObject } from '@grpc/grpc-js';
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

type CallListener = Parameters<ReturnType<experimental.SubchannelInterface['getRealSubchannel']>['createCall']>[3];
type SubchannelCall = ReturnType<ReturnType<experimental.SubchannelInterface['getRealSubchannel']>['createCall']>;

/**
 * The picked subchannel, seen through a view whose calls report into `t`
 * how their stream ended. Everything else is the subchannel's own. The
 * load-balancing call asks the real subchannel for a call once per pick, so
 * the view lives one attempt.
 *
 * grpc-js tracks the facts but does not hand them to interceptors: a stream
 * reset carries its `rstCode` on the subchannel call's status; a lost
 * connection calls the subchannel call's `onDisconnect` (1.12+); a cancel or
 * deadline calls its `cancelWithStatus`. A status that came any other way
 * came in the server's trailers.
 */
export function observeSubchannel(
  sc: experimental.SubchannelInterface,
  t: AttemptTransport,
): experimental.SubchannelInterface {
  // Views are made with Object.create(proto) and one assigned property, not
  // property descriptors: a descriptor map costs about 400 ns per object in V8.
  const view: Mutable<experimental.SubchannelInterface> = Object.create(sc);
  view.getRealSubchannel = () => observeReal(sc.getRealSubchannel(), t);
  return view;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type RealSubchannel = ReturnType<experimental.SubchannelInterface['getRealSubchannel']>;

function observeReal(real: RealSubchannel, t: AttemptTransport): RealSubchannel {
  const view = Object.create(real);
  view.createCall = (metadata: Metadata, host: string, method: string, listener: CallListener) => {
    t.end = undefined;
    const call = real.createCall(metadata, host, method, statusListener(listener, t));
    hook(call, 'onDisconnect', () => {
      t.end ??= 'disconnect';
    });
    hook(call, 'cancelWithStatus', () => {
      t.end ??= 'local';
    });
    return call;
  };
  return view as RealSubchannel;
}

// A new object with the listener's three methods, not Object.create(listener):
// the listener is made per call, and V8 makes an object used as a prototype
// slow to create and to read.
function statusListener(listener: CallListener, t: AttemptTransport): CallListener {
  return {
    onReceiveMetadata: (metadata) => listener.onReceiveMetadata(metadata),
    onReceiveMessage: (message) => listener.onReceiveMessage(message),
    onReceiveStatus: (status: StatusObject & { rstCode?: number }) => {
      t.status = status;
      if (t.end === undefined) {
        if (status.rstCode === undefined) t.end = 'server';
        else t.end = status.rstCode === http2.NGHTTP2_REFUSED_STREAM ? 'refused' : 'reset';
      }
      listener.onReceiveStatus(status);
    },
  };
}

// Runs `before` ahead of the call's own method (an own property over the prototype's).
function hook(call: SubchannelCall, name: string, before: () => void): void {
  const c = call as unknown as Record<string, unknown>;
  const own = c[name];
  if (typeof own !== 'function') return;
  c[name] = (...args: unknown[]) => {
    before();
    return (own as (...a: unknown[]) => unknown).apply(call, args);
  };
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
