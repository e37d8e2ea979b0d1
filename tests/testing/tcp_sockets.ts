// The kernel's view of a server's TCP connections (Linux /proc/net/tcp and
// tcp6), independent of what the server itself counts.

/** Connection states from include/net/tcp_states.h, as /proc/net/tcp prints them (hex). */
const STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
};

export interface TcpSocket {
  localPort: number;
  remotePort: number;
  state: string;
  /** Bytes in the kernel's send queue. */
  sendQueue: number;
}

/** Every IPv4 and IPv6 TCP socket of this machine whose local port is `port`. */
export function socketsOnPort(port: number): TcpSocket[] {
  const found: TcpSocket[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 5) continue;
      const localPort = parseInt(fields[1].split(":").at(-1)!, 16);
      if (localPort !== port) continue;
      found.push({
        localPort,
        remotePort: parseInt(fields[2].split(":").at(-1)!, 16),
        state: STATES[fields[3]] ?? fields[3],
        sendQueue: parseInt(fields[4].split(":")[0], 16),
      });
    }
  }
  return found;
}

/**
 * Connections the server process still holds open to these client ports:
 * ESTABLISHED or CLOSE_WAIT on the server's side. (After an abort the
 * socket is gone, or an orphan in a FIN state that no process holds.)
 */
export function heldConnections(serverPort: number, clientPorts: readonly number[]): number {
  return socketsOnPort(serverPort).filter((s) =>
    clientPorts.includes(s.remotePort) && (s.state === "ESTABLISHED" || s.state === "CLOSE_WAIT")
  ).length;
}
