// The public API, as any newsroom's dashboard would call it. The token lives in
// sessionStorage (gone when the tab closes) and travels only as a Bearer header.

const KEY = "moderation.token";

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.code = this.body.code || (status === 0 ? "network" : `http_${status}`);
  }
}

const listeners = new Set();
export function onUnauthorized(listener) { listeners.add(listener); }

// Returns {status, data, headers}; throws ApiError on any non-2xx answer.
export async function call(path, { method = "GET", body, headers = {}, auth = true,
                                   raw = false, probe = false } = {}) {
  const sent = { Accept: raw ? "*/*" : "application/json", ...headers };
  if (auth && token()) sent.Authorization = `Bearer ${token()}`;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", redirect: "error",
    });
  } catch (error) {
    throw new ApiError(0, { message: "The service cannot be reached." });
  }
  const type = response.headers.get("Content-Type") || "";
  const data = raw ? await response.text()
    : type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    // a 401 ends the session, unless the caller is only finding out what the token can do
    if (response.status === 401 && auth && !probe) listeners.forEach((f) => f());
    throw new ApiError(response.status, data);
  }
  return { status: response.status, data, headers: response.headers };
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, item);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// Endpoints that other parts of the service may not offer yet: remembered per session.
const missing = new Set();
export async function optional(path, options) {
  const base = path.split("?")[0];
  if (missing.has(base)) return null;
  try {
    return await call(path, options);
  } catch (error) {
    if (error.status === 404 || error.status === 405) {
      if (error.status === 405 || !error.body.code || error.body.code === "not_found") {
        missing.add(base);
      }
      return null;
    }
    throw error;
  }
}
