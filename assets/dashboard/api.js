// The dashboard's only way to the service: the public GraphQL API, as any
// other client would use it (`POST graphql`, `Authorization: Bearer <key>`).

/** Raised for an answer with `errors`, or a refused request. */
export class ApiError extends Error {
  constructor(message, { status, code } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** `graphql` next to the page, so a proxy may mount the service under a prefix. */
export function endpoint() {
  return new URL("graphql", document.baseURI).href;
}

/** Runs one operation with `key`; resolves to `data`. */
export async function query(key, document, variables = {}) {
  let response;
  try {
    response = await fetch(endpoint(), {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json",
        Authorization: `Bearer ${key}`,
      },
      body: JSON.stringify({ query: document, variables }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(`the service is not reachable (${e.message})`, { status: 0 });
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the service answered HTTP ${response.status} without JSON`, { status: response.status });
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(first.message, { status: response.status, code: first.extensions?.code });
  }
  if (!response.ok) {
    throw new ApiError(body.message || `HTTP ${response.status}`, { status: response.status, code: body.error });
  }
  return body.data;
}

/**
 * The values of an enum, read by introspection (so that a model or an
 * interval added to the API appears here by itself), with their docs.
 */
export async function enumValues(key, name) {
  const data = await query(
    key,
    "query EnumValues($name: String!) { __type(name: $name) { enumValues { name description } } }",
    { name },
  );
  return data.__type?.enumValues ?? [];
}
