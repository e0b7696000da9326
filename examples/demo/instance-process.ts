// One instance of the Echo service, in a process of its own so that the demo
// can kill it for real. Usage (forked with an IPC channel):
//   instance-process.ts <port>   (0: any free port)
// Reports {type: 'listening', port} once bound, then takes behaviour commands
// until it is killed or the demo goes away.
import * as grpc from '@grpc/grpc-js';
import { EchoService, type SayReply, type SayRequest } from '../support/echo.js';
import { answerFor, type Behaviour, IMMEDIATE } from './behaviour.js';
import type { FromInstance, ToInstance } from './instance-ipc.js';

const send = (m: FromInstance, then?: () => void) => process.send?.(m, undefined, {}, then);
let behaviour: Behaviour = IMMEDIATE;
let self = '';

process.on('message', (m: ToInstance) => {
  if (m.type !== 'behave') return;
  behaviour = m.behaviour;
  send({ type: 'behaving', seq: m.seq });
});
// An orphan would keep its port: leave with the demo.
process.on('disconnect', () => process.exit(0));
// Ctrl-C in the terminal reaches the whole process group: the demo stops its
// instances itself, once its load has stopped.
process.on('SIGINT', () => undefined);

const server = new grpc.Server();
server.addService(EchoService, {
  Say: (call: grpc.ServerUnaryCall<SayRequest, SayReply>, callback: grpc.sendUnaryData<SayReply>) => {
    const a = answerFor(behaviour, Math.random);
    const reply = () =>
      a.code === undefined
        ? callback(null, { text: call.request.text, instance: self })
        : callback({ code: a.code, details: `instance ${self} failed the call, as the demo asked` });
    if (a.delayMs > 0) setTimeout(reply, a.delayMs);
    else reply();
  },
});

const port = Number(process.argv[2] ?? 0);
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) {
    send({ type: 'failed', message: err.message }, () => process.exit(1));
    return;
  }
  self = `127.0.0.1:${bound}`;
  send({ type: 'listening', port: bound });
});
