// The connection indicator in base.html (#conn-status): connected / reconnecting (next
// try in N s) / offline.  Every page that uses the socket calls bindIndicator(client).

const LABELS = { connecting: "Connecting…", connected: "Connected", offline: "Offline" };

export function bindIndicator(client, node = document.getElementById("conn-status")) {
  if (!node) return;
  const label = node.querySelector(".conn-label") || node;
  const retry = document.getElementById("conn-retry");
  let ticker = null;
  if (retry) retry.addEventListener("click", () => client.reconnectNow());

  function render(state) {
    clearInterval(ticker);
    ticker = null;
    node.dataset.state = state.state;
    if (retry) retry.hidden = state.state !== "reconnecting";
    if (state.state !== "reconnecting") {
      label.textContent = LABELS[state.state] || state.state;
      return;
    }
    const tick = () => {
      const secs = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
      label.textContent = secs > 0 ? `Reconnecting (next try in ${secs} s)` : "Reconnecting…";
    };
    tick();
    ticker = setInterval(tick, 500);
  }

  client.onState(render);
}
