// The Echo service of proto/echo.proto, loaded at run time, for the demo's
// instances and its client.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = fileURLToPath(new URL('../../proto/echo.proto', import.meta.url));

export interface SayRequest {
  text: string;
}

export interface SayReply {
  text: string;
  /** The address of the instance that answered. */
  instance: string;
}

/** The generated-looking client of `echo.v1.Echo`; the demo only calls `Say`. */
export interface EchoClient extends grpc.Client {
  Say(
    request: SayRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, reply?: SayReply) => void,
  ): grpc.ClientUnaryCall;
}

const definition = protoLoader.loadSync(PROTO, { keepCase: true, defaults: true });
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  echo: { v1: { Echo: grpc.ServiceClientConstructor } };
};

/** Client constructor of `echo.v1.Echo`. */
export const EchoClient = loaded.echo.v1.Echo as unknown as new (
  target: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => EchoClient;

/** Service definition of `echo.v1.Echo`, for servers. */
export const EchoService: grpc.ServiceDefinition = loaded.echo.v1.Echo.service;
