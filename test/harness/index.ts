// The integration-test server harness: real servers on free ports, each stoppable by PID.
export { startPostgres, type PostgresHandle, type StartPostgresOptions } from './startPostgres.ts';
export { startNats, type NatsHandle, type StartNatsOptions } from './startNats.ts';
export { startS3, type S3Handle, type StartS3Options } from './startS3.ts';
export { freePort } from './freePort.ts';
export { startPglite, type PgliteHandle } from './startPglite.ts';
