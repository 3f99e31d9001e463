/**
 * The start of a text someone else sent (a hub's error page, a garbled reply), cut at `max` characters
 * with an ellipsis: error messages are for people, and what was sent could be anything, of any length.
 */
export function excerpt(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
