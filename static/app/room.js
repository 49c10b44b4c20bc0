// The room page: chat, whiteboard and the presence list, over the tab's one socket.
import { startBoard } from "./board.js";
import { boot } from "./boot.js";
import { startChat } from "./chat.js";
import { colourFor, paint } from "./colour.js";
import { displayName, el, pageData } from "./dom.js";

const page = pageData("page-data");
const client = boot();
const presenceList = document.getElementById("presence");

function userItem(user) {
  return el("li", { dataset: { user: user.id } },
    paint(el("span", { class: "presence-dot", "aria-hidden": "true" }), "background", colourFor(user)),
    el("span", { class: "presence-name" }, displayName(user),
      page.user && user.id === page.user.id ? el("span", { class: "muted" }, " (you)") : null));
}

// A crowd (above the server's REALTIME_PRESENCE_LIST_MAX): the count, and the list one
// page at a time on demand, never the whole of it.
function renderCrowd(count) {
  const shown = presenceList.querySelector(".presence-count");
  if (shown) { // already a crowd: only the count moves, the pages fetched stay
    shown.textContent = `${count.toLocaleString()} people here`;
    return;
  }
  const more = el("button", { type: "button", class: "presence-more" }, "Show who is here");
  let after = null;
  more.addEventListener("click", () => {
    more.disabled = true;
    client.presencePage(page.topics.chat, { after }).then((reply) => {
      more.before(...reply.presence.map(userItem));
      after = reply.next;
      more.textContent = "Show more";
      more.disabled = false;
      if (after === null) more.remove();
    }).catch(() => { more.disabled = false; });
  });
  presenceList.replaceChildren(
    el("li", { class: "presence-count" }, `${count.toLocaleString()} people here`),
    el("li", {}, more));
}

function renderPresence(people, count) {
  if (people === null) {
    renderCrowd(count);
    return;
  }
  const sorted = [...people].sort((a, b) => displayName(a).localeCompare(displayName(b)));
  presenceList.replaceChildren(...sorted.map(userItem));
  if (sorted.length === 0) presenceList.append(el("li", { class: "muted" }, "Nobody else yet"));
}

startChat(client, page, { onPresence: renderPresence });
startBoard(client, page);
