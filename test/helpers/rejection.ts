/**
 * The error a promise rejects with, when it is of `type`; anything else (success, another error)
 * fails the test with what actually happened.
 */
export async function rejectionOf<E extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a ${type.name}, the call succeeded`);
}
