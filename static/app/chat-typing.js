// Who is typing in the room: each chat.typing event shows its user for TYPING_SHOWN_MS, a
// message from them ends it at once, and the page's own user is never listed.  No DOM:
// onChange(text) gets the typing line.  Tested by tests/js/chat-typing.test.mjs.
import { typingText } from "./chat-text.js";
import { displayName } from "./dom.js";

// chat.typing is forwarded at most once per 2 s per user; a composer sends no more often.
export const TYPING_EVERY_MS = 2000;
// Show "X is typing" this long after their last typing event: two forwarding periods, so
// one lost event does not make the line flicker.
export const TYPING_SHOWN_MS = 4000;

export class Typists {
  /** me: the page's user or null; onChange(text) after every change of the line. */
  constructor(me, onChange) {
    this.me = me;
    this.onChange = onChange;
    this.byId = new Map(); // user id -> {name, timer}
  }

  get text() {
    return typingText([...this.byId.values()].map((t) => t.name));
  }

  /** A chat.typing event from user: listed (again) for TYPING_SHOWN_MS. */
  typing(user) {
    if (!user || (this.me && user.id === this.me.id)) return;
    const entry = this.byId.get(user.id);
    if (entry) clearTimeout(entry.timer);
    const timer = setTimeout(() => { this.byId.delete(user.id); this.onChange(this.text); }, TYPING_SHOWN_MS);
    this.byId.set(user.id, { name: displayName(user), timer });
    this.onChange(this.text);
  }

  /** A message from user arrived: they are done typing. */
  sent(user) {
    const entry = user && this.byId.get(user.id);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.byId.delete(user.id);
    this.onChange(this.text);
  }
}
