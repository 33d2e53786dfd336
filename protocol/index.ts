export * from './limits';
export * from './messages';
export * from './frame';
export * from './order';
export type * from './tab-api';
