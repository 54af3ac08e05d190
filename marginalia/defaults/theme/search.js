// The search page: Pagefind's JS API loads the index a piece at a time, so a query
// downloads only the parts of the index its words need, and one fragment per result
// shown. Without JavaScript the page shows its <noscript> message instead.
(function () {
  "use strict";

  var PAGE_SIZE = 10;
  var FILTERS = ["section", "tag", "author"];
  var box = document.querySelector(".search");
  var form = box.querySelector("form");
  var input = box.querySelector("#search-query");
  var order = box.querySelector("#search-sort");
  var status = box.querySelector("#search-status");
  var list = box.querySelector("#search-results");
  var more = box.querySelector("#search-more");
  var lang = document.documentElement.lang || "en";
  var dates = new Intl.DateTimeFormat(lang, { dateStyle: "long", timeZone: "UTC" });
  var pagefind = null;
  var shown = [];  // the current search's results; their data loads as they are shown
  var asked = 0;  // numbers each search, so that a slow answer to an old one is dropped
  var timer = 0;
  var lastQuestion = null;

  function select(name) { return box.querySelector("#search-" + name); }

  function say(text) { status.textContent = text; }

  function load() {
    return import(box.dataset.bundle + "pagefind.js").then(function (module) {
      pagefind = module;
      return pagefind.options({ baseUrl: box.dataset.base, excerptLength: 30 });
    }).then(function () { return pagefind.filters(); });
  }

  function fillFilters(filters) {
    FILTERS.forEach(function (name) {
      var values = Object.keys(filters[name] || {}).sort(function (a, b) {
        return a.localeCompare(b, lang);
      });
      var menu = select(name);
      values.forEach(function (value) { menu.add(new Option(value, value)); });
      menu.parentNode.hidden = values.length === 0;
    });
  }

  // Called at once, and again for the filters once their values are known.
  function readAddress(filtersOnly) {
    var params = new URLSearchParams(location.search);
    if (params.has("q") && !filtersOnly) { input.value = params.get("q"); }
    FILTERS.concat("sort").forEach(function (name) {
      var wanted = params.get(name) || "";
      var menu = select(name);
      if (Array.prototype.some.call(menu.options, function (o) { return o.value === wanted; })) {
        menu.value = wanted;
      }
    });
  }

  function writeAddress() {
    var params = new URLSearchParams();
    if (input.value.trim()) { params.set("q", input.value.trim()); }
    FILTERS.concat("sort").forEach(function (name) {
      if (select(name).value) { params.set(name, select(name).value); }
    });
    var query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
  }

  function search() {
    if (!pagefind) { return; }  // what was typed is searched once the index is loaded
    clearTimeout(timer);
    writeAddress();
    var term = input.value.trim();
    var filters = {};
    FILTERS.forEach(function (name) {
      if (select(name).value) { filters[name] = select(name).value; }
    });
    // The same question again (typing ended just as the index loaded) keeps its answer.
    var question = JSON.stringify([term, filters, order.value]);
    if (question === lastQuestion) { return; }
    lastQuestion = question;
    var number = ++asked;
    list.textContent = "";
    more.hidden = true;
    if (!term && !Object.keys(filters).length) {
      shown = [];
      say("");
      return;
    }
    var options = { filters: filters };
    if (order.value === "newest") { options.sort = { date: "desc" }; }
    pagefind.search(term || null, options).then(function (found) {
      if (number !== asked) { return; }
      shown = found.results;
      var count = shown.length;
      var what = term ? " for \u201c" + term + "\u201d" : "";
      say(count ? (count === 1 ? "1 result" : count + " results") + what : "No results" + what + ".");
      showMore(number);
    });
  }

  function showMore(number, focus) {
    var start = list.children.length;
    var next = shown.slice(start, start + PAGE_SIZE);
    Promise.all(next.map(function (result) { return result.data(); })).then(function (pages) {
      if (number !== asked) { return; }
      pages.forEach(function (page) { list.appendChild(renderResult(page)); });
      more.hidden = list.children.length >= shown.length;
      // A keyboard reader who asked for more lands on the first of them.
      if (focus && list.children[start]) { list.children[start].querySelector("a").focus(); }
    });
  }

  function renderResult(page) {
    var item = document.createElement("li");
    var heading = document.createElement("h2");
    var link = document.createElement("a");
    link.href = page.url;
    link.textContent = page.meta.title || page.url;
    heading.appendChild(link);
    item.appendChild(heading);
    var date = (page.meta.date || "").slice(0, 10);
    if (/^\d{4}-\d{2}-\d{2}$/.test(date)) {
      var meta = document.createElement("p");
      meta.className = "search-result-meta";
      var time = document.createElement("time");
      time.dateTime = date;
      time.textContent = dates.format(new Date(date + "T00:00:00Z"));
      meta.appendChild(time);
      item.appendChild(meta);
    }
    var excerpt = document.createElement("p");
    excerpt.className = "search-excerpt";
    excerpt.appendChild(markedText(page.excerpt));
    item.appendChild(excerpt);
    return item;
  }

  // The excerpt is escaped text with <mark> around the matches: keep exactly that.
  function markedText(html) {
    var parsed = new DOMParser().parseFromString("<p>" + html + "</p>", "text/html");
    var fragment = document.createDocumentFragment();
    parsed.body.firstChild.childNodes.forEach(function (node) {
      if (node.nodeName === "MARK") {
        var mark = document.createElement("mark");
        mark.textContent = node.textContent;
        fragment.appendChild(mark);
      } else {
        fragment.appendChild(document.createTextNode(node.textContent));
      }
    });
    return fragment;
  }

  readAddress();
  form.hidden = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(timer);
    search();
  });
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 200);
  });
  FILTERS.concat("sort").forEach(function (name) {
    select(name).addEventListener("change", search);
  });
  more.addEventListener("click", function () { showMore(asked, true); });
  say("Loading the search index\u2026");
  load().then(function (filters) {
    fillFilters(filters);
    readAddress(true);
    say("");
    search();
  }, function () {
    form.hidden = true;
    say("Search is not available: the search index could not be loaded.");
  });
})();
