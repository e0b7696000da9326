// @cbsuite/redis-sync: fleet-wide breakers over Redis.

export type { RedisSyncErrorCode } from './errors.js';
export { isRedisSyncError, RedisSyncError } from './errors.js';
export type { ConfigMessage, Message, ModeMessage, Refusal, StateMessage } from './messages.js';
export { MAX_MESSAGE_BYTES, WIRE_VERSION } from './messages.js';
export type { RedisSyncOptions } from './options.js';
export type { RedisSyncStats } from './redis-sync.js';
export { RedisSync } from './redis-sync.js';
