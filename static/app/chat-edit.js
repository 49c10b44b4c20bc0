// Editing and deleting one's own chat messages (an owner may delete anyone's): the inline
// editor (Enter saves, Escape cancels, focus returns to the message), and the confirmed
// delete.  The server's answer replaces the message; its event does the same for others.
import { MAX_BODY } from "./chat-text.js";
import { el } from "./dom.js";

/** Opens the editor in place of message id's body.  chat: {client, topic, messages,
 *  nodes, render(msg)}; the message's node is rendered afresh when the editor closes. */
export function startEdit(chat, id) {
  const msg = chat.messages.get(id);
  const node = chat.nodes.get(id);
  if (!msg || !node) return;
  node.classList.add("editing");
  const area = el("textarea", { class: "edit-input", "aria-label": "Edited text", rows: 2, maxlength: MAX_BODY });
  area.value = msg.body;
  const error = el("p", { class: "error", role: "alert" });
  const finish = () => {
    node.classList.remove("editing");
    const fresh = chat.render(chat.messages.get(id));
    node.replaceWith(fresh);
    chat.nodes.set(id, fresh);
    fresh.querySelector("button")?.focus();
  };
  const save = async () => {
    const body = area.value.trim();
    if (!body || body === msg.body) return finish();
    try {
      const reply = await chat.client.request("chat.edit", chat.topic, { id, body });
      if (reply.message) chat.messages.set(id, reply.message);
      finish();
    } catch (err) {
      error.textContent = err.message;
    }
  };
  area.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); save(); }
    if (ev.key === "Escape") { ev.preventDefault(); finish(); }
  });
  const editor = el("div", { class: "msg-editor" }, area,
    el("div", { class: "row" },
      el("button", { type: "button", onclick: save }, "Save"),
      el("button", { type: "button", onclick: finish }, "Cancel")), error);
  node.querySelector(".msg-body").replaceWith(editor);
  node.querySelector(".msg-actions")?.remove();
  area.focus();
}

/** Asks, then deletes message id: chat.upsert(reply.message) shows its tombstone,
 *  chat.showError(err) a refusal. */
export async function removeMessage(chat, id) {
  if (!window.confirm("Delete this message?")) return;
  try {
    const reply = await chat.client.request("chat.delete", chat.topic, { id });
    if (reply.message) chat.upsert(reply.message);
  } catch (err) {
    chat.showError(err);
  }
}
