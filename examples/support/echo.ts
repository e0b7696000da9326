// The Echo service of proto/echo.proto, loaded at run time: the client the
// examples and the demo call, and the service definition their servers add.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = fileURLToPath(new URL('../../proto/echo.proto', import.meta.url));

export interface SayRequest {
  text: string;
}

export interface SayReply {
  text: string;
  /** The address of the server (instance) that answered. */
  instance: string;
}

type SayCallback = (err: grpc.ServiceError | null, reply?: SayReply) => void;

/** The generated-looking client of `echo.v1.Echo` (the methods the examples and the demo call). */
export interface EchoClient extends grpc.Client {
  Say(request: SayRequest, callback: SayCallback): grpc.ClientUnaryCall;
  Say(
    request: SayRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: SayCallback,
  ): grpc.ClientUnaryCall;
  Count(request: { text: string; count: number }): grpc.ClientReadableStream<SayReply>;
}

const definition = protoLoader.loadSync(PROTO, { keepCase: true, defaults: true });
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  echo: { v1: { Echo: grpc.ServiceClientConstructor } };
};

/** `new EchoClient(target, credentials, options)`. */
export const EchoClient = loaded.echo.v1.Echo as unknown as new (
  target: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => EchoClient;

/** Service definition of `echo.v1.Echo`, for servers. */
export const EchoService: grpc.ServiceDefinition = loaded.echo.v1.Echo.service;
