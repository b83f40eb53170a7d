// Starts GraphiQL on the page served at GET /graphql (assets/graphiql/index.html).
//
// It lives in its own file, not inline, so that the page's Content-Security-Policy
// can allow scripts from 'self' only.
"use strict";
(function () {
  // The endpoint is the page's own path: the page is served where queries go,
  // which keeps working behind a proxy that mounts the service under a prefix.
  var endpoint = window.location.pathname;

  // `#key=…` prefills the Authorization header. A fragment never leaves the
  // browser, so the key stays out of server and proxy logs. Parsed by hand:
  // URLSearchParams would turn a `+` of a base64 key into a space.
  function keyFromFragment(hash) {
    var parts = hash.replace(/^#/, "").split("&");
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].indexOf("key=") === 0) {
        try {
          return decodeURIComponent(parts[i].slice(4)).trim() || null;
        } catch (e) {
          return null;
        }
      }
    }
    return null;
  }

  // GraphiQL's dialogs add a <style> element (a scroll lock whose text depends
  // on the scrollbar width, so no fixed hash fits it). The page's policy allows
  // styles with this response's nonce, which the server puts on this script
  // tag; the library reads it from this global.
  var script = document.currentScript;
  if (script && script.nonce) window.__webpack_nonce__ = script.nonce;

  var key = keyFromFragment(window.location.hash);
  // The key goes on the fetcher itself, not only in the headers editor:
  // GraphiQL's first introspection query runs before that editor is read.
  var fetcherHeaders = key ? { Authorization: "Bearer " + key } : {};
  var props = {
    fetcher: GraphiQL.createFetcher({ url: endpoint, headers: fetcherHeaders }),
    isHeadersEditorEnabled: true,
    // Headers can hold credentials: never written to localStorage.
    shouldPersistHeaders: false,
    defaultQuery: "# growth-analytics: Ctrl-Enter runs the query,\n" +
      "# the book icon on the left opens the schema's docs.\n\n" +
      "{\n  classify(url: \"https://example.com/?utm_source=google&utm_medium=cpc\") {\n    channel\n  }\n}\n"
  };
  if (key) {
    props.headers = JSON.stringify(fetcherHeaders, null, 2);
    props.defaultEditorToolsVisibility = "headers";
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, props));
})();
