import type { NextCall } from '@grpc/grpc-js';

// Types grpc-js uses in its public signatures but does not export by name.

/** What `nextCall(options)` returns: the next interceptor, or the channel's call. */
export type InterceptingCallInterface = ReturnType<NextCall>;
export type MessageContext = Parameters<InterceptingCallInterface['sendMessageWithContext']>[0];
export type AuthContext = ReturnType<InterceptingCallInterface['getAuthContext']>;
