// Deno deletes Object.prototype.__proto__; browsers keep it, so there
// `o["__proto__"] = v` sets o's prototype instead of a property. Tests of
// code that runs in the browser put the accessor back while they run.

/** Runs `body` with Object.prototype.__proto__ as browsers have it. */
export function withBrowserProto<T>(body: () => T): T {
  const had = Object.getOwnPropertyDescriptor(Object.prototype, "__proto__");
  Object.defineProperty(Object.prototype, "__proto__", {
    configurable: true,
    get(this: object) {
      return Object.getPrototypeOf(this);
    },
    set(this: object, proto: object | null) {
      if (typeof proto === "object") Object.setPrototypeOf(this, proto);
    },
  });
  try {
    return body();
  } finally {
    if (had) Object.defineProperty(Object.prototype, "__proto__", had);
    else delete (Object.prototype as { __proto__?: unknown }).__proto__;
  }
}
