// The comment thread loads its provider's script only when a reader opens it,
// so a page view makes no third-party request.
(function () {
  "use strict";

  var PROVIDERS = {
    giscus: function (box, thread) {
      var d = box.dataset;
      var script = document.createElement("script");
      script.src = "https://giscus.app/client.js";
      script.setAttribute("data-repo", d.repo);
      script.setAttribute("data-repo-id", d.repoId);
      script.setAttribute("data-category", d.category);
      script.setAttribute("data-category-id", d.categoryId);
      script.setAttribute("data-mapping", d.mapping || "pathname");
      script.setAttribute("data-reactions-enabled", d.reactions === "false" ? "0" : "1");
      script.setAttribute("data-theme", d.theme || "preferred_color_scheme");
      script.setAttribute("data-lang", document.documentElement.lang.split("-")[0] || "en");
      script.crossOrigin = "anonymous";
      script.async = true;
      var target = document.createElement("div");
      target.className = "giscus";
      thread.appendChild(target);
      thread.appendChild(script);
    },
    utterances: function (box, thread) {
      var d = box.dataset;
      var script = document.createElement("script");
      script.src = "https://utteranc.es/client.js";
      script.setAttribute("repo", d.repo);
      script.setAttribute("issue-term", d.issueTerm || "pathname");
      if (d.label) { script.setAttribute("label", d.label); }
      script.setAttribute("theme", d.theme || "preferred-color-scheme");
      script.crossOrigin = "anonymous";
      script.async = true;
      thread.appendChild(script);
    },
    disqus: function (box, thread) {
      var d = box.dataset;
      var target = document.createElement("div");
      target.id = "disqus_thread";
      thread.appendChild(target);
      window.disqus_config = function () {
        this.page.url = d.pageUrl;
        this.page.identifier = d.pageId;
        this.page.title = d.pageTitle;
      };
      var script = document.createElement("script");
      script.src = "https://" + encodeURIComponent(d.shortname) + ".disqus.com/embed.js";
      script.setAttribute("data-timestamp", String(Date.now()));
      script.async = true;
      thread.appendChild(script);
    }
  };

  var DEFAULT_TIMEOUT_SECONDS = 10;

  // Shows "Loading comments…" until the provider puts anything in the thread, and a
  // way to try again when its script fails to load or nothing arrives in time.
  function loadWatched(box, thread, status, load) {
    var timer = null;
    var seconds = parseFloat(box.dataset.timeout) || DEFAULT_TIMEOUT_SECONDS;
    var observer = new MutationObserver(function () { settle(); });

    function settle() {
      clearTimeout(timer);
      observer.disconnect();
      status.replaceChildren();
    }

    // A thread that arrives after the timeout still replaces the message.
    function fail() {
      clearTimeout(timer);
      var retry = document.createElement("button");
      retry.type = "button";
      retry.textContent = "Try again";
      retry.addEventListener("click", start);
      status.replaceChildren("Comments could not be loaded: the comment service is " +
                             "blocked or not answering. ", retry);
      status.classList.add("comments-failed");
    }

    function start() {
      observer.disconnect();
      thread.replaceChildren();
      status.classList.remove("comments-failed");
      status.textContent = "Loading comments\u2026";
      load(box, thread);
      var script = thread.querySelector("script");
      if (script) {
        script.addEventListener("error", function () { if (script.isConnected) { fail(); } });
      }
      observer.observe(thread, { childList: true, subtree: true });
      timer = setTimeout(fail, seconds * 1000);
    }

    start();
  }

  function setUp(box) {
    var summary = box.querySelector("summary");
    var thread = box.querySelector(".comments-thread");
    var status = box.querySelector(".comments-status");
    var load = PROVIDERS[box.dataset.provider];
    var loaded = false;
    if (!status && thread) {
      status = document.createElement("p");
      status.className = "comments-status";
      status.setAttribute("role", "status");
      thread.after(status);
    }
    box.addEventListener("toggle", function () {
      summary.textContent = box.open ? "Hide comments" : "Show comments";
      if (box.open && !loaded && load && thread) {
        loaded = true;
        loadWatched(box, thread, status, load);
      }
    });
  }

  document.querySelectorAll("details.comments").forEach(setUp);
})();
