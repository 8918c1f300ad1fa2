export * from './roles';
export * from './cluster-ca';
export * from './node-key';
export * from './join-token';
export * from './peer-identity';
export * from './grpc-credentials';
export * from './private-files';
