import type { Command } from 'commander';
import { registerAccess } from '../keys/access.js';
import { registerAliases } from '../keys/aliases.js';
import { registerLifecycle } from '../keys/lifecycle.js';
import { registerMaterial } from '../keys/material.js';
import { registerRotation } from '../keys/rotation.js';
import type { Runtime } from '../runtime.js';

/** `eaas keys ...`: key administration, one module per part (cli/keys/*.ts). */
export function register(program: Command, runtime: Runtime): void {
  const keys = program
    .command('keys')
    .description(
      'keys: create, list, describe, enable, disable, rotate, policy, grants, aliases, deletion, import',
    );
  registerLifecycle(keys, runtime);
  registerRotation(keys, runtime);
  registerAccess(keys, runtime);
  registerAliases(keys, runtime);
  registerMaterial(keys, runtime);
}
