// Paging through a feed's items (REST cursor pages, newest first) without the DOM.  A reload
// (after a failed resume) starts again from the first page at once, even while an older
// "load more" is in flight; that older answer is then discarded, so it can neither put its
// items into the fresh list nor leave its next-page URL behind (it used to: the reload was
// skipped as "already loading" and the stale URL won).  Tested by tests/js/feed-pager.test.mjs.

export class Pager {
  /** fetchPage(url) -> Promise of {results, next}. */
  constructor(firstUrl, fetchPage) {
    this.firstUrl = firstUrl;
    this.fetchPage = fetchPage;
    this.nextUrl = firstUrl;
    this.generation = 0; // bumped by reload(): answers of older generations are dropped
    this.inFlight = null; // the generation whose page is being fetched, or null
  }

  get hasMore() { return Boolean(this.nextUrl); }
  get loading() { return this.inFlight === this.generation; }

  /** Fetches the next page; resolves with its items, or null when there is nothing to do
   *  (no next page, one already loading) or a reload superseded it.  Rejects with the
   *  fetch's error (unless superseded: then null). */
  async loadMore() {
    if (this.loading || !this.nextUrl) return null;
    const generation = this.generation;
    this.inFlight = generation;
    try {
      const { results, next } = await this.fetchPage(this.nextUrl);
      if (generation !== this.generation) return null;
      this.nextUrl = next || null;
      return results || [];
    } catch (err) {
      if (generation !== this.generation) return null;
      throw err;
    } finally {
      if (this.inFlight === generation) this.inFlight = null;
    }
  }

  /** Starts again from the first page (the caller has emptied its list); resolves as
   *  loadMore() does. */
  reload() {
    this.generation += 1;
    this.nextUrl = this.firstUrl;
    return this.loadMore();
  }
}
