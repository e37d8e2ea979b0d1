import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { errorResponse, problem, statusFor } from "./errors.ts";

/** Names a client can switch on, written out here rather than derived from the code under test. */
const EXPECTED_NAMES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  421: "misdirected_request",
  422: "unprocessable_entity",
  426: "upgrade_required",
  429: "too_many_requests",
  500: "internal",
  503: "unavailable",
};

Deno.test("every error status problem() answers has a meaningful error name and keeps the detail", async () => {
  for (let status = 400; status <= 599; status++) {
    const response = problem(status, `detail for ${status}`);
    assertEquals(response.status, status);
    assert(response.headers.get("content-type")!.startsWith("application/json"));
    const body = await response.json();
    assertEquals(Object.keys(body).sort(), ["detail", "error"], String(status));
    assertEquals(body.detail, `detail for ${status}`);
    assert(/^[a-z]+(_[a-z]+)*$/.test(body.error), `${status}: ${body.error}`);
    assert(body.error !== "error", `${status} says "error"`);
    if (status in EXPECTED_NAMES) assertEquals(body.error, EXPECTED_NAMES[status], String(status));
  }
});

Deno.test("errorResponse maps each error class to one status, an error name and a detail", async () => {
  const cases: [Error, number, string][] = [
    [new Deno.errors.NotFound("no such batch"), 404, "no such batch"],
    [new Deno.errors.PermissionDenied("send a token"), 401, "send a token"],
    [new Deno.errors.Busy("writer saturated"), 503, "writer saturated"],
    [new Deno.errors.NotSupported("no such type"), 415, "no such type"],
    [new TypeError("bad shape"), 400, "bad shape"],
    [new SyntaxError("bad json"), 400, "bad json"],
    [new RangeError("too many"), 400, "too many"],
    [new Deno.errors.InvalidData("malformed body"), 400, "malformed body"],
    [new Deno.errors.ConnectionAborted("client went away"), 400, "client went away"],
    [new Error("secret internals"), 500, "internal error"],
  ];
  for (const [error, status, detail] of cases) {
    assertEquals(statusFor(error), status, error.name);
    const response = errorResponse(error);
    assertEquals(response.status, status, error.name);
    const body = await response.json();
    assertEquals(body, { error: EXPECTED_NAMES[status], detail }, error.name);
  }
});
