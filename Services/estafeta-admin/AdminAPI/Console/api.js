// The admin API as the browser calls it: the token from this tab's session storage as the Bearer
// header, never a cookie; every failure an APIError carrying the API's problem document (RFC 9457).

const tokenKey = "estafeta.console.token";

export const token = {
  get: () => sessionStorage.getItem(tokenKey),
  set: (value) => sessionStorage.setItem(tokenKey, value),
  clear: () => sessionStorage.removeItem(tokenKey),
};

export class APIError extends Error {
  constructor(status, problem) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
    this.status = status;
    this.problem = problem;
  }
}

/** `/api/v1/accounts/{address}` with each value encoded as one path segment. */
export function path(strings, ...values) {
  return strings.reduce((out, text, index) => out + text + (index < values.length ? encodeURIComponent(values[index]) : ""), "");
}

function withQuery(target, query) {
  if (!query) return target;
  const parameters = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") parameters.set(name, String(value));
  }
  const text = parameters.toString();
  return text ? `${target}?${text}` : target;
}

export async function call(method, target, { query, body, authenticated = true } = {}) {
  const headers = { Accept: "application/json" };
  if (authenticated) headers.Authorization = `Bearer ${token.get() ?? ""}`;
  const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(withQuery(target, query), init);
  } catch (error) {
    throw new APIError(0, { title: "The admin API cannot be reached", detail: String(error?.message ?? error) });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const problem = data && typeof data.title === "string" ? data : { title: `HTTP ${response.status}`, detail: text.slice(0, 200) };
    throw new APIError(response.status, problem);
  }
  return data;
}

export const get = (target, query, options = {}) => call("GET", target, { query, ...options });
export const post = (target, body, query) => call("POST", target, { body, query });
export const patch = (target, body) => call("PATCH", target, { body });
export const remove = (target, query) => call("DELETE", target, { query });
