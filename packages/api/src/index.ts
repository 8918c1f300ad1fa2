export * from './proto';
export * from './types';
export * from './task-states';
export * from './units';
export * from './addresses';
export * from './service-spec';
export * from './placement-rules';
