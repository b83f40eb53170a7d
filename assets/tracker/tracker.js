/*
 * growth-analytics browser tracker, served by the service at /tracker.js.
 *
 *   <script defer src="https://analytics.example.com/tracker.js" data-key="ga_…"></script>
 *
 * Sends a pageview on load and on every single-page-app navigation
 * (history.pushState / replaceState / popstate; hash changes with
 * data-hash), and exposes window.growthAnalytics.identify(userId) and
 * .track(name). Each send is one POST of the service's own webhook payload
 * (/webhooks/pageviews, /webhooks/events), so the tracker accepts and is
 * refused exactly what a backend sender is.
 *
 * Attributes of the script tag:
 *   data-key          an ingest-only key without a signing secret (public by
 *                     nature: it can only write; CORS_ORIGINS limits which
 *                     sites' browsers may use it).
 *   data-api          the service's base URL, when it is not the origin this
 *                     file was loaded from (e.g. a first-party proxy path).
 *   data-cookie       keep the visitor id in a first-party cookie instead of
 *                     localStorage; a value (`example.com`) is the cookie's
 *                     domain, so subdomains share one visitor id.
 *   data-hash         count fragment changes (`#/pricing`) as navigations.
 *   data-respect-dnt  send nothing, and store nothing, when the browser
 *                     signals Do Not Track or Global Privacy Control.
 *
 * Design notes (README, "Browser tracker", says the same for users):
 * - created_at is the browser's clock, in milliseconds, strictly increasing
 *   within a page. The webhook requires a time, and it is half of the
 *   payload's natural key: a retried send repeats the very same body and is
 *   absorbed as a duplicate, while two genuine views of one URL have two
 *   times and both count.
 * - The referrer is document.referrer on the first pageview of a page load
 *   and the previous URL on a single-page-app navigation, as a multi-page
 *   site's own navigation would send it (an internal referrer, so no new
 *   touchpoint).
 * - Sends use fetch with keepalive (they survive the page unloading) and an
 *   Authorization header, which makes each one CORS-preflighted: a page on an
 *   origin outside CORS_ORIGINS never gets a request through. sendBeacon is
 *   not used: it cannot carry the header, and its simple request would skip
 *   the preflight.
 */
(function () {
  "use strict";

  var script =
    document.currentScript ||
    document.querySelector('script[data-key][src*="tracker.js"]');
  if (!script || window.growthAnalytics) return;

  var PREFIX = "growth-analytics: ";
  var ID = "growth_analytics_id";
  var USER = "growth_analytics_user";
  /* 400 days, the longest cookie lifetime browsers keep. */
  var COOKIE_SECONDS = 400 * 24 * 3600;
  /* Delays before the retries of a send that failed for want of a network,
     a 429 or a 5xx; a retry sends the identical body. */
  var RETRIES_MS = [1000, 5000];

  function attr(name) {
    return script.getAttribute("data-" + name);
  }
  function flag(name) {
    var value = attr(name);
    return value !== null && value !== "false";
  }
  function warn(message) {
    if (window.console) console.warn(PREFIX + message);
  }

  var key = attr("key");
  var api = (attr("api") || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var useCookie = flag("cookie");
  var cookieDomain = useCookie && attr("cookie") !== "true" ? attr("cookie") : "";
  var hashRouting = flag("hash");

  function optedOut() {
    var n = navigator;
    var dnt = n.doNotTrack || window.doNotTrack || n.msDoNotTrack;
    return n.globalPrivacyControl === true || dnt === "1" || dnt === "yes";
  }

  var disabled = false;
  if (!key) {
    warn("the script tag has no data-key; nothing is sent");
    disabled = true;
  } else if (flag("respect-dnt") && optedOut()) {
    disabled = true;
  }

  /* Storage: localStorage or a cookie, with memory as the fallback when the
     browser refuses both (blocked storage, some private modes). */
  var memory = {};
  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return null;
  }
  function read(name) {
    var value = null;
    try {
      value = useCookie ? readCookie(name) : localStorage.getItem(name);
    } catch (e) {
      /* storage refused: memory below */
    }
    return value || memory[name] || null;
  }
  function write(name, value) {
    if (value) memory[name] = value;
    else delete memory[name];
    try {
      if (useCookie) {
        document.cookie =
          name + "=" + (value ? encodeURIComponent(value) : "") +
          "; path=/; max-age=" + (value ? COOKIE_SECONDS : 0) + "; samesite=lax" +
          (cookieDomain ? "; domain=" + cookieDomain : "") +
          (location.protocol === "https:" ? "; secure" : "");
      } else if (value) {
        localStorage.setItem(name, value);
      } else {
        localStorage.removeItem(name);
      }
    } catch (e) {
      /* storage refused: memory keeps it for this page */
    }
  }

  /* A random version 4 UUID; crypto.randomUUID exists only in secure contexts. */
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = "";
    for (var i = 0; i < 16; i++) {
      h += (b[i] + 256).toString(16).slice(1);
      if (i === 3 || i === 5 || i === 7 || i === 9) h += "-";
    }
    return h;
  }

  /* Cookies are renewed on every page, so a returning visitor keeps them
     for 400 days after the last visit, not the first. */
  if (useCookie && !disabled) {
    [ID, USER].forEach(function (name) {
      var value = read(name);
      if (value) write(name, value);
    });
  }

  function fingerprint() {
    var id = read(ID);
    if (!id) {
      id = uuid();
      write(ID, id);
    }
    return id;
  }

  var lastMs = 0;
  function now() {
    lastMs = Math.max(Date.now(), lastMs + 1);
    return new Date(lastMs).toISOString();
  }

  function httpUrl(url) {
    return /^https?:\/\//i.test(url || "") ? url : null;
  }

  /* POSTs one payload; resolves to whether the service stored it (or had it
     already). Never rejects: a tracker must not break the page. */
  function send(path, payload) {
    var body = JSON.stringify(payload);
    var attempt = 0;
    function again(delay) {
      var wait = RETRIES_MS[attempt++];
      return new Promise(function (resolve) {
        setTimeout(resolve, Math.max(wait, Math.min(delay || 0, 60000)));
      }).then(go);
    }
    function go() {
      return fetch(api + path, {
        method: "POST",
        keepalive: true,
        mode: "cors",
        credentials: "omit",
        headers: { Authorization: "Bearer " + key, "Content-Type": "application/json" },
        body: body,
      }).then(
        function (response) {
          if (response.ok) return true;
          var status = response.status;
          if ((status === 429 || status >= 500) && attempt < RETRIES_MS.length) {
            return again(1000 * Number(response.headers.get("Retry-After") || 0));
          }
          return response.text().then(function (text) {
            warn("POST " + path + " answered " + status + ": " + text.slice(0, 300));
            return false;
          });
        },
        function () {
          if (attempt < RETRIES_MS.length) return again(0);
          warn("could not reach " + api + path + " (offline, or this origin is not in CORS_ORIGINS)");
          return false;
        }
      );
    }
    return go();
  }

  function pageUrl() {
    return hashRouting ? location.href : location.href.split("#")[0];
  }

  var lastUrl = null;
  function pageview() {
    if (disabled) return Promise.resolve(false);
    var url = pageUrl();
    if (url === lastUrl) return Promise.resolve(false);
    var referrer = lastUrl === null ? document.referrer : lastUrl;
    lastUrl = url;
    return send("/webhooks/pageviews", {
      fingerprint: fingerprint(),
      user_id: read(USER),
      url: url,
      referrer_url: httpUrl(referrer),
      created_at: now(),
    });
  }

  function navigated() {
    try {
      pageview();
    } catch (e) {
      warn("no pageview for this navigation: " + e);
    }
  }

  ["pushState", "replaceState"].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      navigated();
      return result;
    };
  });
  addEventListener("popstate", navigated);
  if (hashRouting) addEventListener("hashchange", navigated);
  /* A page restored from the back/forward cache runs no script again, yet
     it is viewed again, as a reload would be. */
  addEventListener("pageshow", function (event) {
    if (event.persisted) {
      lastUrl = null;
      navigated();
    }
  });

  window.growthAnalytics = {
    /* Links this browser's visitor id to an account id (call it at login
       and signup): one `identify` event when the id is new to this browser;
       every later send carries the id too. identify(null) forgets it (at
       logout). Resolves to whether the service stored it. */
    identify: function (userId) {
      var id = userId == null ? "" : String(userId).trim();
      if (!id) {
        write(USER, null);
        return Promise.resolve(true);
      }
      if (disabled) return Promise.resolve(false);
      if (read(USER) === id) return Promise.resolve(true);
      write(USER, id);
      return send("/webhooks/events", {
        name: "identify",
        fingerprint: fingerprint(),
        user_id: id,
        created_at: now(),
      });
    },
    /* Sends an event (`signup`, `trial`, …). The event webhook stores a
       name, the visitor, the account and the time: nothing else, so there
       are no properties to pass. Resolves to whether the service stored it. */
    track: function (name) {
      if (disabled) return Promise.resolve(false);
      if (typeof name !== "string" || !name.trim()) {
        warn("track() needs an event name");
        return Promise.resolve(false);
      }
      if (arguments.length > 1) warn("track() sends the event name only; its other arguments are ignored");
      return send("/webhooks/events", {
        name: name,
        fingerprint: fingerprint(),
        user_id: read(USER),
        created_at: now(),
      });
    },
  };

  /* A prerendered page is counted when the visitor actually sees it. */
  if (document.prerendering) {
    document.addEventListener("prerenderingchange", navigated, { once: true });
  } else {
    navigated();
  }
})();
