// Feed paging (static/app/feed-pager.js): a reload racing a load-more.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Pager } from "../../static/app/feed-pager.js";

/** A fetchPage whose answers the test releases by hand, in any order. */
function controlledFetch() {
  const calls = [];
  const fetchPage = (url) => new Promise((resolve, reject) => calls.push({ url, resolve, reject }));
  return { calls, fetchPage };
}

test("pages follow each other until there is no next one", async () => {
  const pages = { "/p1": { results: [1, 2], next: "/p2" }, "/p2": { results: [3], next: null } };
  const pager = new Pager("/p1", async (url) => pages[url]);
  assert.deepEqual(await pager.loadMore(), [1, 2]);
  assert.deepEqual(await pager.loadMore(), [3]);
  assert.equal(pager.hasMore, false);
  assert.equal(await pager.loadMore(), null);
});

test("a reload while an older page loads wins: the older answer and its next URL are dropped", async () => {
  const { calls, fetchPage } = controlledFetch();
  const pager = new Pager("/first", fetchPage);
  calls.length = 0;
  pager.nextUrl = "/older?cursor=2";
  const older = pager.loadMore();
  const fresh = pager.reload();
  assert.deepEqual(calls.map((c) => c.url), ["/older?cursor=2", "/first"], "the reload did not wait for the older page");
  calls[1].resolve({ results: ["new"], next: "/first?cursor=1" });
  assert.deepEqual(await fresh, ["new"]);
  calls[0].resolve({ results: ["stale"], next: "/older?cursor=3" });
  assert.equal(await older, null);
  assert.equal(pager.nextUrl, "/first?cursor=1");
  assert.equal(pager.loading, false);
});

test("an older page that fails after a reload is ignored, not reported", async () => {
  const { calls, fetchPage } = controlledFetch();
  const pager = new Pager("/first", fetchPage);
  const older = pager.loadMore();
  const fresh = pager.reload();
  calls[0].reject(new Error("gone"));
  assert.equal(await older, null);
  calls[1].resolve({ results: [], next: null });
  assert.deepEqual(await fresh, []);
});

test("one load at a time: a second load-more while one is in flight does nothing", async () => {
  const { calls, fetchPage } = controlledFetch();
  const pager = new Pager("/first", fetchPage);
  const first = pager.loadMore();
  assert.equal(await pager.loadMore(), null);
  assert.equal(calls.length, 1);
  calls[0].resolve({ results: [1], next: null });
  assert.deepEqual(await first, [1]);
});
