/**
 * Is the real PyPI reachable from here? One small request with a short timeout, so an offline
 * machine skips the live suite in seconds instead of failing it test by test.
 */
export async function pypiReachable(timeoutMs = 8_000): Promise<boolean> {
  try {
    const res = await fetch("https://pypi.org/simple/pip/", {
      headers: { accept: "application/vnd.pypi.simple.v1+json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
