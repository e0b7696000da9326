import { EventEmitter } from '@cbsuite/core';

/** The instance level entered or left panic mode. */
export interface PanicChange {
  /** `true` when the level entered panic, `false` when it left. */
  readonly entered: boolean;
  /** Instances whose breakers allow calls (CLOSED, not ejected) at the change. */
  readonly available: number;
  /** Instances listed by the channels' resolvers at the change. */
  readonly total: number;
  /** The `panicThreshold` in force. */
  readonly threshold: number;
}

/**
 * Envoy's panic threshold for the instance level. While the share of listed
 * instances whose breakers allow calls is below `threshold`, the level is in
 * panic: the picker ignores tripped breakers (not forced-open ones) and
 * spreads calls over every instance, recording outcomes as usual, and no
 * breaker of the level trips (see InstanceLevel). A threshold
 * of 0 turns it off (Kitex: every instance tripped drops every call).
 *
 * The share is re-evaluated when an instance breaker changes state or the
 * address list changes, never at pick time: a pick reads one field.
 */
export class PanicMode {
  private active = false;
  private entries = 0;
  private spread = 0;
  private readonly changes = new EventEmitter<[PanicChange]>();
  /** Listens to panic being entered and left. */
  readonly onChange = this.changes.event;

  constructor(
    /** Share of instances in [0, 1]; 0 turns panic mode off. */
    readonly threshold: number,
  ) {}

  /** Whether panic mode can ever be entered. */
  get enabled(): boolean {
    return this.threshold > 0;
  }

  /** Whether the level is in panic now. */
  get inPanic(): boolean {
    return this.active;
  }

  /** Times panic was entered. */
  get panics(): number {
    return this.entries;
  }

  /** Picks that went to an instance whose breaker refused, because the level was in panic. */
  get panicPicks(): number {
    return this.spread;
  }

  /** Counts a pick made in spite of the instance's breaker. */
  pickedInPanic(): void {
    this.spread++;
  }

  /**
   * Re-evaluates panic from the instances that allow calls out of those
   * listed. With no instance listed (every channel idle or closed) it stays
   * as it was: a channel leaving idle lists the same instances again.
   */
  update(available: number, total: number): void {
    if (this.threshold === 0 || total === 0) return;
    const panic = available < this.threshold * total;
    if (panic === this.active) return;
    this.active = panic;
    if (panic) this.entries++;
    this.changes.emit({ entered: panic, available, total, threshold: this.threshold });
  }
}
