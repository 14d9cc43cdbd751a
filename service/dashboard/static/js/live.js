// Live updates from GET /v1/events/stream (server-sent events). EventSource cannot send a
// Bearer header, so the stream is read with fetch; on any drop it reconnects with
// Last-Event-ID set to the last position it saw, so nothing is missed or repeated.

import { token } from "./api.js";

// With onClaim, the stream also carries claims as they change (`event: claim`, no id):
// first every live claim, then each one taken, released or expired.
export function follow({ after, types = [], onEvent, onClaim = null, onState = () => {} }) {
  let last = after;
  let stopped = false;
  let controller = null;
  let delay = 1000;

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const search = new URLSearchParams({ after: String(last) });
        for (const type of types) search.append("type", type);
        if (onClaim) search.set("claims", "true");
        const response = await fetch(`/v1/events/stream?${search}`, {
          headers: { Accept: "text/event-stream", Authorization: `Bearer ${token()}`,
                     "Last-Event-ID": String(last) },
          cache: "no-store", credentials: "omit", signal: controller.signal,
        });
        if (response.status === 401 || response.status === 403) { onState("off"); return; }
        if (response.status === 404) { onState("unavailable"); return; }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        onState("on");
        delay = 1000;
        await read(response.body);
        // the server ends streams after a while: continue at once from the last position
        if (!stopped) await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      } catch (error) {
        if (stopped) return;
      }
      if (stopped) return;
      onState("retry");
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  async function read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id = null;
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon === -1 ? line : line.slice(0, colon);
          const text = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "id") id = text;
          else if (field === "event") name = text;
          else if (field === "data") data.push(text);
        }
        if (data.length === 0) continue;
        if (name === "claim") {
          if (onClaim) {
            try { onClaim(JSON.parse(data.join("\n"))); } catch (error) { console.error(error); }
          }
          continue;
        }
        if (name !== "message") continue;
        const event = JSON.parse(data.join("\n"));
        if (id !== null) last = Number(id);
        try { onEvent(event); } catch (error) { console.error(error); }
      }
    }
  }

  run();
  return {
    close() { stopped = true; if (controller) controller.abort(); onState("off"); },
    get position() { return last; },
  };
}
