/** What the parsers return: bytes from the network are hostile until proven otherwise, so never a throw. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export const parsed = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const malformed = <T>(error: string): Parsed<T> => ({ ok: false, error });
