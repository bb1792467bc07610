/**
 * Index URLs may carry credentials (`https://user:token@host/simple/`). Every URL that reaches a
 * message, report or log goes through here first.
 */
export function redactUrl(raw: string): string {
  // The authority ends at the first "/", "?", "#" (or a space in free text); userinfo is all of it
  // up to its *last* "@", as pip and the WHATWG parser read it, so "u:p@ss@host" hides "u:p@ss".
  return raw.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/?#\s]*)@/gi, (_m, scheme: string, cred: string) =>
    cred ? `${scheme}****@` : `${scheme}@`,
  );
}

/** Redacts every URL-looking credential inside free text (a command line, a pip message). */
export function redactText(text: string): string {
  return redactUrl(text);
}
