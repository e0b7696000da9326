import { ErrorType } from '@cbsuite/core';
import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { circuitBreakKey, circuitBreakLevel, circuitBreakStatus, isCircuitBreakError } from './circuit-break-error.js';
import {
  errorTypeByStatusCode,
  errorTypeOnInstanceLevel,
  errorTypeOnServiceLevel,
  errorTypeTrailer,
  instanceErrorTypeWithCodes,
  isConnectionLevelStatus,
  isRefusedStatus,
  isServiceDiscoveryStatus,
  isTransportCancel,
  markedErrorType,
  type OutcomeContext,
  wrapErrorTypeFunc,
} from './classify.js';
import { rpcInfoOf } from './rpc-info.js';

const ctx: OutcomeContext = {
  level: 'instance',
  key: '127.0.0.1:1',
  rpcInfo: rpcInfoOf('', '/a.B/C'),
  cancelledByCaller: false,
};
const st = (code: Status, details = '', metadata = new Metadata()): StatusObject => ({ code, details, metadata });

describe('instance-level classification', () => {
  it.each([
    [Status.OK, '', ErrorType.Success],
    [Status.CANCELLED, 'Call cancelled', ErrorType.Ignorable],
    [Status.UNAVAILABLE, 'Connection dropped', ErrorType.Failure],
    [Status.UNAVAILABLE, 'Stream refused by server', ErrorType.Failure],
    [Status.UNAVAILABLE, 'read ECONNRESET', ErrorType.Failure],
    [Status.UNAVAILABLE, 'Write error: write EPIPE', ErrorType.Failure],
    [Status.UNAVAILABLE, 'Received HTTP status code 503', ErrorType.Failure],
    [Status.UNAVAILABLE, 'the database is down', ErrorType.Success],
    [Status.RESOURCE_EXHAUSTED, 'too busy', ErrorType.Success],
    [Status.DEADLINE_EXCEEDED, 'Deadline exceeded', ErrorType.Success],
    [Status.INTERNAL, 'boom', ErrorType.Success],
  ])('code %i %j counts as %i by default (Kitex: connection errors only)', (code, details, type) => {
    expect(errorTypeOnInstanceLevel(st(code, details), ctx)).toBe(type);
  });

  it('counts chosen server-returned codes against the instance when asked', () => {
    const f = instanceErrorTypeWithCodes(['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED']);
    expect(f(st(Status.UNAVAILABLE, 'the database is down'), ctx)).toBe(ErrorType.Failure);
    expect(f(st(Status.RESOURCE_EXHAUSTED, 'too busy'), ctx)).toBe(ErrorType.Failure);
    expect(f(st(Status.DEADLINE_EXCEEDED, 'Deadline exceeded'), ctx)).toBe(ErrorType.Timeout);
    expect(f(st(Status.INTERNAL, 'boom'), ctx)).toBe(ErrorType.Success);
    expect(() => instanceErrorTypeWithCodes(['INTERNAL' as never])).toThrow(/got "INTERNAL"/);
  });

  it('tells connection-level errors from server answers', () => {
    expect(isConnectionLevelStatus(st(Status.UNAVAILABLE, 'connect ECONNREFUSED 127.0.0.1:1'))).toBe(true);
    expect(isConnectionLevelStatus(st(Status.INTERNAL, 'Connection dropped'))).toBe(false);
  });

  // What the transport saw (fromServer) decides; the text only when that is unknown.
  const contentType = () => {
    const md = new Metadata();
    md.set('content-type', 'application/grpc');
    return md;
  };
  it.each<[string, StatusObject, boolean | undefined, ErrorType]>([
    ['a server\'s "Connection dropped"', st(Status.UNAVAILABLE, 'Connection dropped'), true, ErrorType.Success],
    [
      'a server\'s "ECONNREFUSED"',
      st(Status.UNAVAILABLE, 'db: connect ECONNREFUSED 10.0.0.1:5432'),
      true,
      ErrorType.Success,
    ],
    ['a transport UNAVAILABLE, any text', st(Status.UNAVAILABLE, 'the database is down'), false, ErrorType.Failure],
    [
      'a trailers-only "Connection dropped", facts unknown',
      st(Status.UNAVAILABLE, 'Connection dropped', contentType()),
      undefined,
      ErrorType.Success,
    ],
    ['a transport CANCELLED (a reset stream)', st(Status.CANCELLED, 'Call cancelled'), false, ErrorType.Failure],
    ["a server's CANCELLED", st(Status.CANCELLED, 'Call cancelled'), true, ErrorType.Ignorable],
    ['a CANCELLED, facts unknown', st(Status.CANCELLED, 'Call cancelled'), undefined, ErrorType.Ignorable],
  ])('%s counts as %i at the instance level', (_name, status, fromServer, type) => {
    expect(errorTypeOnInstanceLevel(status, { ...ctx, fromServer })).toBe(type);
  });

  it("the caller's own CANCELLED is ignorable, whatever the transport saw", () => {
    const cancel = st(Status.CANCELLED, 'Cancelled on client');
    expect(errorTypeOnInstanceLevel(cancel, { ...ctx, cancelledByCaller: true, fromServer: false })).toBe(
      ErrorType.Ignorable,
    );
    expect(isTransportCancel(cancel, { cancelledByCaller: true, fromServer: false })).toBe(false);
    expect(isTransportCancel(cancel, { cancelledByCaller: false, fromServer: false })).toBe(true);
    expect(isTransportCancel(st(Status.UNAVAILABLE), { cancelledByCaller: false, fromServer: false })).toBe(false);
  });

  it('recognises a refused stream by its text only when no server sent it', () => {
    const refused = st(Status.UNAVAILABLE, 'Stream refused by server');
    expect(isRefusedStatus(refused)).toBe(true);
    expect(isRefusedStatus(refused, true)).toBe(false);
    expect(isRefusedStatus(st(Status.UNAVAILABLE, 'Stream refused by server', contentType()))).toBe(false);
  });
});

describe('service-level classification helpers', () => {
  it('reads and writes the error-type trailer', () => {
    const md = errorTypeTrailer(ErrorType.Timeout);
    expect(markedErrorType(st(Status.INTERNAL, '', md))).toBe(ErrorType.Timeout);
    const junk = new Metadata();
    junk.set('x-cbsuite-error-type', 'sometimes');
    expect(markedErrorType(st(Status.INTERNAL, '', junk))).toBeUndefined();
    expect(() => errorTypeTrailer(7 as never)).toThrow(TypeError);
  });

  const svc: OutcomeContext = { ...ctx, level: 'service', key: 'a/b/c' };
  const trailersOnly = () => {
    const md = new Metadata();
    md.set('content-type', 'application/grpc+proto');
    return md;
  };
  it.each([
    ['Name resolution failed for target dns:backend:50051', undefined, new Metadata(), ErrorType.Ignorable],
    ['Failed to parse DNS address dns:///[::1', false, new Metadata(), ErrorType.Ignorable],
    ['Failed to parse ipv6 address [::1', undefined, new Metadata(), ErrorType.Ignorable],
    ['Unrecognized scheme ipv5 in IP resolver', undefined, new Metadata(), ErrorType.Ignorable],
    ['Name resolution failed for target dns:backend:50051', true, new Metadata(), ErrorType.Failure],
    ['Name resolution failed for target dns:backend:50051', undefined, trailersOnly(), ErrorType.Failure],
    ['No addresses resolved. Resolution note: ', undefined, new Metadata(), ErrorType.Failure],
    ['round_robin: No connection established. Last error: ECONNREFUSED', false, new Metadata(), ErrorType.Failure],
  ])(
    'UNAVAILABLE %j (from a server: %s) is a resolver failure only when grpc-js made it',
    (details, fromServer, metadata, type) => {
      const status = st(Status.UNAVAILABLE, details, metadata);
      expect(errorTypeOnServiceLevel(status, { ...svc, fromServer })).toBe(type);
      expect(isServiceDiscoveryStatus(status, fromServer)).toBe(type === ErrorType.Ignorable);
    },
  );

  it('ignores the trailer on success and with errorTypeByStatusCode', () => {
    expect(errorTypeOnServiceLevel(st(Status.OK, '', errorTypeTrailer(ErrorType.Failure)), ctx)).toBe(
      ErrorType.Success,
    );
    expect(errorTypeByStatusCode(Status.INTERNAL)).toBe(ErrorType.Failure);
  });

  it('wraps: the custom function is asked only when the original says success', () => {
    const seen: number[] = [];
    const f = wrapErrorTypeFunc((s) => {
      seen.push(s.code);
      return ErrorType.Failure;
    }, errorTypeOnServiceLevel);
    expect(f(st(Status.DEADLINE_EXCEEDED), ctx)).toBe(ErrorType.Timeout);
    expect(f(st(Status.NOT_FOUND), ctx)).toBe(ErrorType.Failure);
    expect(seen).toEqual([Status.NOT_FOUND]);
  });
});

describe('isCircuitBreakError', () => {
  it('recognises the rejection status and errors built from it, at both levels', () => {
    const s = circuitBreakStatus('service', 'a/b c/ü');
    expect(isCircuitBreakError(s)).toBe(true);
    expect(circuitBreakLevel(s)).toBe('service');
    expect(circuitBreakKey(s)).toBe('a/b c/ü');
    const err = Object.assign(new Error('14 UNAVAILABLE'), circuitBreakStatus('instance', undefined));
    expect(circuitBreakLevel(err)).toBe('instance');
    expect(circuitBreakKey(err)).toBeUndefined();
  });

  it.each([
    ['a plain UNAVAILABLE', st(Status.UNAVAILABLE, 'forbidden by circuitbreaker: service circuitbreak')],
    ['another code with the marker', { ...circuitBreakStatus('service', 'k'), code: Status.INTERNAL }],
    [
      'a marker with another value',
      (() => {
        const md = new Metadata();
        md.set('x-cbsuite-circuitbreak', 'everything');
        return st(Status.UNAVAILABLE, '', md);
      })(),
    ],
    [
      'the marker trailers a server sent',
      (() => {
        const md = new Metadata();
        md.set('x-cbsuite-circuitbreak', 'service');
        md.set('x-cbsuite-key', 'k');
        return st(Status.UNAVAILABLE, 'forbidden by circuitbreaker: service circuitbreak', md);
      })(),
    ],
    ['null', null],
    ['a string', 'forbidden by circuitbreaker'],
    ['an object without metadata', { code: Status.UNAVAILABLE }],
  ])('is false for %s', (_name, value) => {
    expect(isCircuitBreakError(value)).toBe(false);
    expect(circuitBreakLevel(value)).toBeUndefined();
  });
});
