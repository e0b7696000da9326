// The two messages of grpc.health.v1.Health/Check, encoded by hand: a
// request with one string field and a response with one enum field need no
// protobuf runtime, and the suite takes no dependency for them. Messages
// travel in gRPC's length-prefixed frame (a compressed flag, then the length
// as a 32-bit big-endian integer).

/** The full method name of the standard health check. */
export const HEALTH_CHECK_METHOD = '/grpc.health.v1.Health/Check';

/** `grpc.health.v1.HealthCheckResponse.ServingStatus`: what a health check answers. */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** The serving statuses by their number on the wire. */
export const SERVING_STATUSES: readonly ServingStatus[] = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/** `HealthCheckRequest { string service = 1; }` in a gRPC frame, uncompressed. */
export function encodeCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const len = varint(name.length);
  // proto3 leaves an empty string out: the empty message asks about the whole server.
  const body = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), len, name]);
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  return frame;
}

/**
 * The `status` of a framed `HealthCheckResponse`; an enum value beyond the
 * known ones reads as `UNKNOWN`. Undefined when the frame is compressed
 * (the check never offers compression) or malformed.
 */
export function decodeCheckResponse(frame: Buffer): ServingStatus | undefined {
  if (frame.length < 5 || frame.readUInt8(0) !== 0) return undefined;
  const end = 5 + frame.readUInt32BE(1);
  if (end !== frame.length) return undefined;
  let status = 0;
  let at = 5;
  while (at < end) {
    const tag = readVarint(frame, at, end);
    if (tag === undefined) return undefined;
    at = tag.next;
    const wire = tag.value % 8;
    const field = Math.floor(tag.value / 8);
    if (wire === 0) {
      const v = readVarint(frame, at, end);
      if (v === undefined) return undefined;
      at = v.next;
      if (field === 1) status = v.value;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const n = readVarint(frame, at, end);
      if (n === undefined) return undefined;
      at = n.next + n.value;
    } else return undefined;
    if (at > end) return undefined;
  }
  return SERVING_STATUSES[status] ?? 'UNKNOWN';
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

// Up to 64 bits; values past 2^53 lose precision, which only an enum this
// short could notice, and it reads them as UNKNOWN.
function readVarint(b: Buffer, from: number, end: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let at = from; at < end && at < from + 10; at++) {
    const byte = b.readUInt8(at);
    value += (byte & 0x7f) * scale;
    scale *= 0x80;
    if (byte < 0x80) return { value, next: at + 1 };
  }
  return undefined;
}
