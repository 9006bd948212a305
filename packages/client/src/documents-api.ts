import type { Requester } from './types.js';

/** The document routes (`/v1/objects...`, `/v1/uploads...`, `/v1/downloads`): one typed method per route. */
export class DocumentsApi {
  constructor(private readonly client: Requester) {}
}
