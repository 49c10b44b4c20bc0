// Writing in a room: the composer (Enter sends, Shift+Enter is a new line, the box grows
// with its text, typing notifications at most every TYPING_EVERY_MS) and the send itself.
// Each send has a client_id and retry: true, so a resend after a reconnect or an
// `overloaded` never duplicates; a failed one stays in the list with a Retry button.
import { renderPending } from "./chat-render.js";
import { bodyError } from "./chat-text.js";
import { TYPING_EVERY_MS } from "./chat-typing.js";
import { el, uuid } from "./dom.js";

// chat.send may wait for a reconnect: give it longer than an ordinary request.
const SEND_TIMEOUT_MS = 30_000;
// The composer grows with its text up to this height, then scrolls.
const COMPOSER_MAX_PX = 160;

/** Binds the composer form.  chat: {client, topic, page, list, pending (client_id ->
 *  {node, body}), upsert(msg), toBottom(), posted()}; posted() is called after each message
 *  the server accepted. */
export function startComposer(chat, form, input, formError) {
  const me = chat.page.user;
  let lastTypingSent = 0;

  async function send(body, clientId = uuid(), existing = null) {
    const node = existing || renderPending(me, body, clientId);
    if (!existing) {
      chat.pending.set(clientId, { node, body });
      chat.list.append(node);
      chat.toBottom();
    } else {
      node.classList.remove("failed");
      node.querySelector(".msg-state").replaceChildren("Sending…");
    }
    try {
      const reply = await chat.client.request("chat.send", chat.topic, { body, client_id: clientId },
        { retry: true, timeout: SEND_TIMEOUT_MS });
      chat.upsert(reply.message);
      chat.posted();
    } catch (err) {
      if (!chat.pending.has(clientId)) return; // the event already delivered it
      node.classList.add("failed");
      node.querySelector(".msg-state").replaceChildren(
        `Not sent: ${err.message} `,
        el("button", { type: "button", class: "msg-action", onclick: () => send(body, clientId, node) }, "Retry"));
    }
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, COMPOSER_MAX_PX)}px`;
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = input.value.trim();
    formError.textContent = "";
    if (!body) return;
    const refused = bodyError(body);
    if (refused) {
      formError.textContent = refused;
      return;
    }
    input.value = "";
    autosize();
    send(body);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    autosize();
    const now = Date.now();
    if (input.value.trim() && now - lastTypingSent > TYPING_EVERY_MS) {
      if (chat.client.notify("chat.typing", chat.topic, {})) lastTypingSent = now;
    }
  });
}
