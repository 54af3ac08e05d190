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

  function setUp(box) {
    var summary = box.querySelector("summary");
    var thread = box.querySelector(".comments-thread");
    var load = PROVIDERS[box.dataset.provider];
    var loaded = false;
    box.addEventListener("toggle", function () {
      summary.textContent = box.open ? "Hide comments" : "Show comments";
      if (box.open && !loaded && load && thread) {
        loaded = true;
        load(box, thread);
      }
    });
  }

  document.querySelectorAll("details.comments").forEach(setUp);
})();
