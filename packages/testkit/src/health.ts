// The standard health service (grpc.health.v1.Health) as grpc-health-check
// ships it: its service definition, whose serializers are protobufjs's, to
// check hand-written codecs against, and the server implementation.
export {
  HealthImplementation,
  type ServingStatus,
  type ServingStatusMap,
  service as HEALTH_SERVICE,
} from 'grpc-health-check';
