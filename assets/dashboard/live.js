// Live updates: a small client of the `graphql-transport-ws` protocol (the
// one the `graphql-ws` library speaks) on `graphql/ws`, subscribed to
// `reportsChanged`, which ticks whenever the materialiser commits new
// derived data. The socket reconnects with backoff when it drops; the
// caller hears about each tick and about the connection's state.

const PROTOCOL = "graphql-transport-ws";
const SUBSCRIPTION = "subscription { reportsChanged { version at } }";
/** How long the server has to acknowledge `connection_init`. */
const ACK_TIMEOUT_MS = 10_000;
/** Reconnection backoff: doubling from the first to the last, with jitter. */
const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
/** A ping this often, so that a dead connection is noticed. */
const PING_EVERY_MS = 25_000;

/** `graphql/ws` next to the page, as `ws:` or `wss:`. */
function socketUrl() {
  const url = new URL("graphql/ws", document.baseURI);
  url.protocol = url.protocol.replace("http", "ws");
  return url.href;
}

/**
 * Connects and stays connected until `stop()` is called.
 * - `onTick(payload)`: a `reportsChanged` value arrived.
 * - `onState(state)`: "connecting", "live" or "offline".
 */
export function connectLive({ key, onTick, onState }) {
  let socket = null;
  let stopped = false;
  let attempt = 0;
  let retryTimer = null;
  let ackTimer = null;
  let pingTimer = null;

  function clearTimers() {
    clearTimeout(ackTimer);
    clearInterval(pingTimer);
    ackTimer = pingTimer = null;
  }

  function scheduleRetry() {
    if (stopped) return;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
    attempt += 1;
    const wait = ceiling / 2 + Math.random() * (ceiling / 2);
    retryTimer = setTimeout(open, wait);
  }

  function send(message) {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function open() {
    if (stopped) return;
    onState("connecting");
    let ws;
    try {
      ws = new WebSocket(socketUrl(), PROTOCOL);
    } catch {
      onState("offline");
      scheduleRetry();
      return;
    }
    socket = ws;
    ws.addEventListener("open", () => {
      send({ type: "connection_init", payload: { authorization: `Bearer ${key}` } });
      ackTimer = setTimeout(() => ws.close(4408, "Connection initialisation timeout"), ACK_TIMEOUT_MS);
    });
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        ws.close(4400, "Invalid message");
        return;
      }
      switch (message.type) {
        case "connection_ack":
          clearTimeout(ackTimer);
          attempt = 0;
          onState("live");
          send({ id: "1", type: "subscribe", payload: { query: SUBSCRIPTION } });
          pingTimer = setInterval(() => send({ type: "ping" }), PING_EVERY_MS);
          break;
        case "ping":
          send({ type: "pong" });
          break;
        case "next":
          if (message.id === "1") onTick(message.payload?.data?.reportsChanged);
          break;
        case "error":
          // The subscription was refused (a key without `read`…): no use
          // retrying the same request at once; the backoff applies.
          ws.close(4400, "Subscription refused");
          break;
        case "complete":
          ws.close(1000, "Subscription completed");
          break;
        default:
          break;
      }
    });
    ws.addEventListener("close", () => {
      clearTimers();
      if (socket === ws) socket = null;
      if (stopped) return;
      onState("offline");
      scheduleRetry();
    });
  }

  open();
  return {
    stop() {
      stopped = true;
      clearTimeout(retryTimer);
      clearTimers();
      socket?.close(1000, "Normal Closure");
    },
  };
}
