import type { Requester } from './types.js';

/** The re-encryption job routes (`/v1/jobs...`): one typed method per route. */
export class JobsApi {
  constructor(private readonly client: Requester) {}
}
