// Why the feed is not live, in words an operator can act on (not "closed
// with 1006").
import { CloseCode } from "@pulseboard/protocol";

/** A close code (and the server's reason, if any) as a sentence. */
export function closeReason(code: number, reason = ""): string {
  switch (code) {
    case 1000:
    case 1005:
      return "The connection was closed; reconnecting.";
    case CloseCode.GoingAway:
      return "The server is shutting down or restarting.";
    case 1006:
      return "The server cannot be reached (it may be down, restarting, or the network is out).";
    case 1011:
      return "The server hit an error.";
    case CloseCode.ServiceRestart:
      return "The server restarted its feed; the data will be resent.";
    case 1013:
      return "The server is too busy right now.";
    case CloseCode.PingTimeout:
      return "The connection went silent.";
    case CloseCode.Unauthorized:
      return "The server needs a valid dashboard token.";
    case CloseCode.Slow:
      return "This page fell too far behind the feed.";
    case CloseCode.RateLimited:
      return "This page sent too many requests.";
    default:
      return reason
        ? `The server closed the connection: ${reason}.`
        : `The connection closed (code ${code}).`;
  }
}

/** A resync that could not resume, in words: what was lost and what the page did. */
export const RESYNC_EXPLAINED =
  "The server could not replay what this page missed (it restarted, or the gap was too long), " +
  "so the table was reloaded whole: values are current, but changes during the gap were not shown.";
