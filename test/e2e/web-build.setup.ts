import { buildWeb } from '../../web/build.js';

/** Global setup of the e2e project: builds the upload page into web/dist, as `npm start` does. */
export default async function setup(): Promise<void> {
  await buildWeb();
}
