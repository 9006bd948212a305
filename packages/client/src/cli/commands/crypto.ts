import type { Command } from 'commander';
import type { Runtime } from '../runtime.js';

/** The `crypto` commands (being written). */
export function register(_program: Command, _runtime: Runtime): void {}
