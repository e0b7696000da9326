import { type InterceptingListener, Metadata, type StatusObject } from '@grpc/grpc-js';
import type { AuthContext, InterceptingCallInterface, MessageContext } from './grpc-types.js';

/**
 * Stands in for the channel call of a call a breaker rejected: nothing is
 * created on the channel and nothing is written to the wire. `start` delivers
 * the rejection status on the next turn of the event loop (setImmediate, so a
 * caller that retries at once on rejection cannot starve I/O).
 */
export class RejectedCall implements InterceptingCallInterface {
  private listener: Partial<InterceptingListener> | undefined;
  private started = false;
  private done = false;

  constructor(private status: StatusObject) {}

  start(_metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.listener = listener;
    this.started = true;
    setImmediate(() => this.finish());
  }

  /** A cancel before the rejection is delivered ends the call with the cancel's status instead. */
  cancelWithStatus(code: StatusObject['code'], details: string): void {
    if (this.done) return;
    this.status = { code, details, metadata: new Metadata() };
    if (this.started) this.finish();
  }

  getPeer(): string {
    return 'unknown';
  }

  sendMessageWithContext(context: MessageContext, _message: unknown): void {
    // Writes to a rejected stream go nowhere; their callbacks still run, as
    // they do for writes after a call ended.
    if (context.callback) setImmediate(context.callback);
  }

  sendMessage(message: unknown): void {
    this.sendMessageWithContext({}, message);
  }

  startRead(): void {}

  halfClose(): void {}

  getAuthContext(): AuthContext {
    return null;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.listener?.onReceiveStatus?.(this.status);
  }
}
