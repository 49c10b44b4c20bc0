// Every page's start: the tab's one realtime client and the header's connection indicator.
import { getClient } from "../realtime/client.js";
import { bindIndicator } from "./conn-status.js";

export function boot() {
  const client = getClient();
  bindIndicator(client);
  return client;
}
