import { HEALTH_SERVICE } from '@cbsuite/testkit/health.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCheckResponse, encodeCheckRequest, SERVING_STATUSES } from './health-codec.js';

const check = HEALTH_SERVICE.Check as unknown as {
  requestDeserialize(b: Buffer): { service: string };
  responseSerialize(m: { status: number }): Buffer;
};

function frame(body: Buffer, compressed = 0): Buffer {
  const f = Buffer.alloc(5 + body.length);
  f.writeUInt8(compressed, 0);
  f.writeUInt32BE(body.length, 1);
  body.copy(f, 5);
  return f;
}

describe('the health check codec, against the proto grpc-health-check ships', () => {
  it('encodes any service name as protobufjs reads it, in an uncompressed frame', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (service) => {
        const f = encodeCheckRequest(service);
        expect(f.readUInt8(0)).toBe(0);
        expect(f.readUInt32BE(1)).toBe(f.length - 5);
        expect(check.requestDeserialize(f.subarray(5)).service).toBe(service);
      }),
    );
  });

  it('decodes every status protobufjs writes, unknown enum values as UNKNOWN', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 1000 }), (status) => {
        const got = decodeCheckResponse(frame(check.responseSerialize({ status })));
        expect(got).toBe(SERVING_STATUSES[status] ?? 'UNKNOWN');
      }),
    );
    expect(decodeCheckResponse(frame(Buffer.alloc(0)))).toBe('UNKNOWN');
  });

  it('skips fields it does not know, and refuses compressed or malformed frames', () => {
    // field 2 (length-delimited "xy"), field 3 fixed32, field 4 fixed64, then status = NOT_SERVING
    const body = Buffer.from([0x12, 2, 0x78, 0x79, 0x1d, 1, 2, 3, 4, 0x21, 1, 2, 3, 4, 5, 6, 7, 8, 0x08, 2]);
    expect(decodeCheckResponse(frame(body))).toBe('NOT_SERVING');
    expect(decodeCheckResponse(frame(Buffer.from([0x08, 1]), 1))).toBeUndefined();
    expect(decodeCheckResponse(frame(Buffer.from([0x08])))).toBeUndefined();
    expect(decodeCheckResponse(frame(Buffer.from([0x12, 5, 1])))).toBeUndefined();
    expect(decodeCheckResponse(frame(Buffer.from([0x0b])))).toBeUndefined();
    expect(decodeCheckResponse(Buffer.from([0, 0, 0, 0, 3, 0x08]))).toBeUndefined();
    expect(decodeCheckResponse(Buffer.from([0, 0]))).toBeUndefined();
  });
});
