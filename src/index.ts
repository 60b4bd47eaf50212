/**
 * The package's entry point (`import { startSwitchboard } from 'switchboard'`): start a Switchboard in
 * process, load a directory file. The testing kit for bot developers is `switchboard/testing`.
 */
export { startSwitchboard, type RunningSwitchboard, type SwitchboardOptions } from './switchboard.js';
export { loadDirectoryFile, parseDirectory, DirectoryError } from './directory/load.js';
export type { Directory } from './directory/model.js';
export type { Call, CallEvent, Effect } from './calls/model.js';
export { transition } from './calls/machine.js';
