import { EventEmitter, type TripFunc } from '@cbsuite/core';
import {
  type CBConfig,
  CBConfigError,
  type CBConfigInput,
  cbConfigEquals,
  DEFAULT_CB_CONFIG,
  parseCBConfig,
} from './cb-config.js';

/** Builds the trip func of a config; default `rateTripFunc(cfg.errRate, cfg.minSample)`. */
export type CBTripFuncFactory = (cfg: CBConfig, key: string) => TripFunc;

/** A config changed: `key` undefined for the default. */
export type ConfigChangeHandler = (key: string | undefined, from: CBConfig, to: CBConfig) => void;

interface Entry {
  readonly cfg: CBConfig;
  readonly trip: TripFunc;
}

/**
 * Configs by key over a default. Each update validates first and replaces the
 * entry only when valid, so a bad config never displaces a good one. The trip
 * func is built once per update and looked up on every failure, which is how
 * an update applies to the next failure.
 */
export class ConfigStore {
  private readonly entries = new Map<string, Entry>();
  private fallback: Entry;
  private readonly changes = new EventEmitter<Parameters<ConfigChangeHandler>>();
  /** Reports every change of a config in force (not updates that leave it as it was); returns a disposer. */
  readonly onChange = this.changes.event;

  constructor(
    private readonly makeTrip: CBTripFuncFactory,
    defaults: CBConfigInput | undefined,
    path: string,
  ) {
    this.fallback = this.entry(parseCBConfig(defaults === undefined ? {} : defaults, DEFAULT_CB_CONFIG, path), '');
  }

  /** The config in force for `key`. */
  get(key: string): CBConfig {
    // Most stores hold no config of a key's own: skip the lookup.
    if (this.entries.size === 0) return this.fallback.cfg;
    return (this.entries.get(key) ?? this.fallback).cfg;
  }

  /** The trip func in force for `key`. */
  trip(key: string): TripFunc {
    return (this.entries.get(key) ?? this.fallback).trip;
  }

  /** Whether `key` has a config of its own. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Sets `key`'s config; fields left out keep their current value. */
  update(key: unknown, cfg: unknown): CBConfig {
    if (typeof key !== 'string') throw new CBConfigError('key', key, 'must be a string');
    const prev = this.get(key);
    const next = parseCBConfig(cfg, prev);
    this.entries.set(key, this.entry(next, key));
    this.report(key, prev, next);
    return next;
  }

  /** Drops `key`'s own config; it falls back to the default. */
  remove(key: string): void {
    const prev = this.entries.get(key);
    if (prev === undefined) return;
    this.entries.delete(key);
    this.report(key, prev.cfg, this.fallback.cfg);
  }

  get default(): CBConfig {
    return this.fallback.cfg;
  }

  /** Sets the default for keys with no config of their own. */
  updateDefault(cfg: unknown): CBConfig {
    const prev = this.fallback.cfg;
    const next = parseCBConfig(cfg, prev);
    this.fallback = this.entry(next, '');
    this.report(undefined, prev, next);
    return next;
  }

  /** Keys with a config of their own, and their configs. */
  own(): Map<string, CBConfig> {
    return new Map([...this.entries].map(([k, e]) => [k, e.cfg]));
  }

  private report(key: string | undefined, from: CBConfig, to: CBConfig): void {
    if (!cbConfigEquals(from, to)) this.changes.emit(key, from, to);
  }

  private entry(cfg: CBConfig, key: string): Entry {
    return { cfg, trip: this.makeTrip(cfg, key) };
  }
}
