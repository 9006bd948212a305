import { EaasError } from '@eaas/client';

/** The API's refusal of a call as { status, code, message }; throws if the call succeeds or fails otherwise. */
export async function refusal(
  p: Promise<unknown>,
): Promise<{ status: number; code: string; message: string }> {
  try {
    await p;
  } catch (error) {
    if (error instanceof EaasError) return { status: error.status, code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}
