/**
 * A failed API call: an HTTP error (`status` > 0, with the server's
 * `{ error, detail }` when it sent one), a network failure (`status` 0), or a
 * response whose shape did not fit (`status` 200, `error` "invalid response").
 */
export class ApiError extends Error {
  readonly status: number;
  readonly error: string;
  readonly detail: string;

  constructor(status: number, error: string, detail: string) {
    super(detail ? `${error}: ${detail}` : error);
    this.name = "ApiError";
    this.status = status;
    this.error = error;
    this.detail = detail;
  }
}
