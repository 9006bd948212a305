import type { S3Deps, S3Request } from './context.js';
import { malformedXml } from './errors.js';
import { receiveSmallBody } from './intake.js';
import { planPayload } from './payload.js';
import { parseXml, type XmlElement, XmlSyntaxError } from './xml.js';

/** Largest XML request body read (a CompleteMultipartUpload of 10,000 parts is about 1 MB). */
export const MAX_XML_BYTES = 2 * 1024 * 1024;

/** Reads and parses an XML request body whose root must be `root`; checked like any body. */
export async function readXmlRequest(deps: S3Deps, r: S3Request, root: string): Promise<XmlElement> {
  const plan = planPayload(r.req.headers, r.caller.contentSha256, r.caller.chunkSigning);
  r.acceptBody();
  const body = await receiveSmallBody(r.req, plan, deps.storage.scratchFile(), MAX_XML_BYTES);
  let element: XmlElement;
  try {
    element = parseXml(body.toString('utf8'));
  } catch (error) {
    if (error instanceof XmlSyntaxError) throw malformedXml();
    throw error;
  }
  if (element.name !== root) throw malformedXml();
  return element;
}
