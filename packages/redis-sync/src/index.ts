// @cbsuite/redis-sync: fleet-wide breakers over Redis.

export type { ConfigMessage, Message, Refusal, StateMessage } from './messages.js';
export { MAX_MESSAGE_BYTES } from './messages.js';
export type { RedisSyncOptions, RedisSyncStats } from './redis-sync.js';
export { RedisSync } from './redis-sync.js';
