// The room page: chat, whiteboard and the presence list, over the tab's one socket.
import { startBoard } from "./board.js";
import { boot } from "./boot.js";
import { startChat } from "./chat.js";
import { colourFor, paint } from "./colour.js";
import { displayName, el, pageData } from "./dom.js";

const page = pageData("page-data");
const client = boot();
const presenceList = document.getElementById("presence");

function renderPresence(people) {
  const sorted = [...people].sort((a, b) => displayName(a).localeCompare(displayName(b)));
  presenceList.replaceChildren(...sorted.map((user) => el("li", { dataset: { user: user.id } },
    paint(el("span", { class: "presence-dot", "aria-hidden": "true" }), "background", colourFor(user)),
    el("span", { class: "presence-name" }, displayName(user),
      page.user && user.id === page.user.id ? el("span", { class: "muted" }, " (you)") : null))));
  if (sorted.length === 0) presenceList.append(el("li", { class: "muted" }, "Nobody else yet"));
}

startChat(client, page, { onPresence: renderPresence });
startBoard(client, page);
