#!/usr/bin/env python3
"""Write a deterministic commentary-blog corpus as a Marginalia, Pelican or Hugo site.

    python bench/generate.py --posts 1000 --out DIR --engine marginalia|pelican|hugo

The same seed gives the same posts, byte for byte, for every engine: only the
file layout, front-matter syntax and configuration differ. The engine
marginalia-commonmark is the Marginalia site with `engine = "commonmark"` in its
site.toml: the same files otherwise. All text is made up here from small word
lists; nothing is read from the network or from disk.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

# Each Marginalia variant and the Markdown engine its site.toml names.
MARGINALIA_MARKDOWN = {"marginalia": "python-markdown", "marginalia-commonmark": "commonmark"}
ENGINES = (*MARGINALIA_MARKDOWN, "pelican", "hugo")
SEED = 20240917
POSTS_PER_PAGE = 10
FEED_ITEMS = 20
BASE_URL = "https://bench.example/"
SITE_TITLE = "The Bench Marginal"
SITE_DESCRIPTION = "Invented commentary on invented news, for build benchmarks."

SECTIONS = (
    ("Harbor & Trade", "harbor-trade", "Ports, tariffs and the cargo in between."),
    ("Statehouse", "statehouse", "Budgets, bills and the votes behind them."),
    ("Power Grid", "power-grid", "Utilities, fuel and who keeps the lights on."),
    ("Bench & Bar", "bench-bar", "Courts, rulings and the lawyers who argue them."),
    ("Abroad", "abroad", "Capitals, envoys and the treaties they sign."),
    ("Work Floor", "work-floor", "Wages, unions and the jobs report."),
    ("Circuit Board", "circuit-board", "Chips, networks and the rules for both."),
)
# Section weights: commentary blogs are lopsided; one desk writes most of the posts.
SECTION_WEIGHTS = (24, 20, 16, 12, 12, 9, 7)

OUTLETS = (
    ("Meridian Wire", "meridianwire.example"), ("The Harbor Ledger", "harborledger.example"),
    ("Northfield Courier", "northfieldcourier.example"),
    ("Capstone Daily", "capstonedaily.example"), ("The Plainsman", "plainsman.example"),
    ("Granite Post", "granitepost.example"), ("The Tidewater Record", "tidewater.example"),
    ("Lantern Economic Review", "lanternreview.example"),
    ("Crossroads Bulletin", "crossroadsbulletin.example"),
    ("The Civic Gazette", "civicgazette.example"), ("Ironbridge Times", "ironbridge.example"),
    ("Bellwether News", "bellwether.example"), ("The Quarry Observer", "quarryobs.example"),
    ("Saltmarsh Herald", "saltmarsh.example"), ("Westvale Journal", "westvale.example"),
    ("Foundry Financial", "foundryfinancial.example"),
)
AUTHORS = ("Imogen Vasquez-Hale", "Teodor Quill", "Priya Ramanathan-Oakes", "Boris Lindqvist",
           "Adaeze Morrow", "Callum Fenwick", "Noor Haddadi", "Wendell Okafor",
           "Sunniva Brandt", "Mateo Castellano", "Harriet Osei", "Kenji Alderton")

TAG_PLACES = ("Coastal", "Rural", "Federal", "Municipal", "Northern", "Border",
              "Regional", "Metro")
TAG_TOPICS = ("Housing", "Water", "Tariffs", "Pensions", "Broadband", "Shipping",
              "Subsidies", "Courts", "Elections", "Transit", "Fisheries", "Grain",
              "Refineries", "Hospitals", "Schools", "Bonds", "Wages", "Customs",
              "Railways", "Treaties", "Permits", "Wildfire", "Mining", "Ferries",
              "Data Centers")
TAGS = tuple(f"{place} {topic}" for place in TAG_PLACES for topic in TAG_TOPICS)

ACTORS = ("the finance ministry", "port commissioners", "a coalition of mayors",
          "the appeals panel", "two freight unions", "the grid operator",
          "county treasurers", "the customs office", "a bloc of rural senators",
          "the trade envoy", "shipping insurers", "the state auditor",
          "regional lenders", "the transit board", "a group of chip makers",
          "the labor secretary", "water districts", "the central bank",
          "hospital administrators", "the attorney general", "ferry operators",
          "the budget committee", "grain cooperatives", "the foreign minister")
VERBS = ("quietly shelved", "pushed back on", "signed off on", "walked away from",
         "doubled down on", "asked for more time on", "raised fresh doubts about",
         "tried to rewrite", "put a price on", "leaned hard on", "reopened",
         "sent back", "took credit for", "played down", "warned against",
         "split over", "rushed through", "rejected", "negotiated around",
         "left out")
OBJECTS = ("the harbor levy", "a stopgap budget", "the pension shortfall",
           "the broadband map", "new tariff schedules", "the rate case",
           "a ferry contract", "the permitting overhaul", "the district maps",
           "the wage floor", "a water-sharing compact", "the refinery permit",
           "the bond refinancing", "the grain quota", "the customs backlog",
           "a data-center tax break", "the rail merger", "the wildfire fund",
           "the hospital consolidation", "the mining royalty", "a border crossing deal",
           "the transit fare freeze", "the school funding formula", "the treaty text")
TAILS = ("before the session closed", "after a long night of calls",
         "despite a warning from its own staff", "with little public notice",
         "in a vote that surprised almost no one", "under pressure from donors",
         "while markets waited", "for the second time this year",
         "without saying what comes next", "as the deadline slipped again",
         "on the strength of a single study", "after a court filing forced the issue",
         "in a letter released late Friday", "ahead of the quarterly numbers")
OPENERS = ("It is worth pausing on", "Nobody should be surprised by",
           "The part that deserves attention is", "Read closely, the story is about",
           "What gets lost in the coverage is", "The easy reading misses",
           "Follow the money and you arrive at", "Set aside the theater and look at",
           "The real fight is over", "Underneath the headline sits")
CLAIMS = ("the cost lands on people who had no vote in it",
          "the numbers were never going to add up",
          "the deadline was chosen for political reasons",
          "the same proposal failed three years ago",
          "the agency lacks the staff to enforce it",
          "the winners are easier to name than the losers",
          "the fine print matters more than the announcement",
          "nobody has explained who pays for the second year",
          "the court will likely have the last word",
          "the markets priced this in weeks ago",
          "the opposition has no plan of its own",
          "the affected towns were not consulted",
          "the savings depend on optimistic forecasts",
          "the rule will be hard to undo once it starts")
HEDGES = ("at least for now", "by most accounts", "if the filings are right",
          "on paper", "in practice", "so far", "as far as anyone can tell",
          "for better or worse")
LINK_TEXTS = ("the filing itself", "an earlier report", "the committee's own summary",
              "last year's audit", "the original memo", "a dissenting opinion",
              "the published schedule", "the agency's data", "a useful explainer",
              "the transcript")
EMPHASIS = ("not", "before", "after", "every", "only", "still", "never", "both",
            "less", "more", "all", "again")
QUOTE_SUBJECTS = ("Officials", "Analysts at two firms", "People familiar with the talks",
                  "Industry representatives", "Several legislators", "Local leaders",
                  "Regulators", "Executives", "Staff economists", "Union leaders")
QUOTE_VERBS = ("said", "cautioned", "acknowledged", "argued", "told reporters",
               "wrote in a filing", "noted", "conceded")
QUOTE_CLAIMS = ("the plan would take at least two years to carry out",
                "talks had stalled over a single clause",
                "the estimate did not include interest costs",
                "they expected a legal challenge within weeks",
                "the measure was drafted without input from the districts",
                "shipments had already slowed at three terminals",
                "the revised figures would be published next month",
                "earlier projections had been too optimistic",
                "the agreement left several questions unanswered",
                "a compromise could come together quickly if the money was found",
                "they had not seen the final text",
                "the cost would be spread over a decade")
LIST_ITEMS = ("Who signs off if the estimate changes", "Whether the courts step in",
              "How the second-year costs are covered", "What the districts say at hearings",
              "Whether lenders price in the delay", "Which towns are exempted and why",
              "How quickly the agency can hire", "What the opposition offers instead",
              "Whether the deadline moves again", "What the next audit finds")
TITLE_SHAPES = ("{Actor} {Verb} {Object}", "Why {Object} Is Really About Money",
                "What {Object} Leaves Out", "{Object}, Explained in Five Paragraphs",
                "The Trouble With {Object}", "{Actor} and the Fight Over {Object}",
                "Don't Mistake {Object} for a Solution", "After {Object}, What Now?",
                "A Second Look at {Object}", "{Object}: The Part Nobody Mentions")
TITLE_SMALL_WORDS = {"a", "an", "the", "and", "of", "on", "for", "to", "in", "at", "over",
                     "with", "about", "from"}
EDIT_SENTENCE = "An editor's note was added here for the rebuild benchmark, number {n}."
EDIT_MARKER = "rebuild benchmark, number {n}"
# The post that the add-a-post rebuild writes: mid-corpus, so the listings it joins
# exist at every size. The sentence numbers each run, so a page left from an earlier
# run does not pass for this one's.
ADDED_POST_DATE = datetime(2020, 6, 1, 9, 30, tzinfo=timezone(timedelta(hours=-4)))
ADDED_SENTENCE = "This post was added for the rebuild benchmark, run {n}."
ADDED_MARKER = "added for the rebuild benchmark, run {n}"


@dataclass(frozen=True)
class GeneratedPost:
    title: str
    slug: str
    section: tuple[str, str, str]  # name, slug, description
    date: datetime
    dek: str
    sources: tuple[tuple[str, str], ...]  # (name, url)
    tags: tuple[str, ...]
    author: str
    body: str


def titlecase(text: str) -> str:
    """Capitalise a headline, leaving short joining words lower case."""
    words = text.split(" ")
    out = []
    for index, word in enumerate(words):
        if index and word.lower() in TITLE_SMALL_WORDS:
            out.append(word.lower())
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


def slugify(text: str) -> str:
    """Make a lower-case, hyphenated ASCII slug."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace("'", "")).strip("-")


def link_to(rng: random.Random, text: str) -> str:
    """Wrap text in a Markdown link to an invented outlet article."""
    _, domain = rng.choice(OUTLETS)
    path = f"{rng.randrange(2012, 2026)}/{rng.randrange(1, 13):02d}/{rng.randrange(10**5):05d}"
    return f"[{text}](https://{domain}/{path}/)"


def sentence(rng: random.Random, *, link: bool = False, emphasis: bool = False) -> str:
    """Make one commentary sentence, optionally with a link or an emphasised word."""
    obj = rng.choice(OBJECTS)
    if link:
        obj = link_to(rng, obj)
    shape = rng.randrange(5)
    if shape == 0:
        text = f"{rng.choice(OPENERS)} {obj}: {rng.choice(CLAIMS)}, {rng.choice(HEDGES)}."
    elif shape == 1:
        actor = rng.choice(ACTORS)
        text = (f"{actor[0].upper()}{actor[1:]} {rng.choice(VERBS)} {obj} "
                f"{rng.choice(TAILS)}, and {rng.choice(CLAIMS)}.")
    elif shape == 2:
        text = (f"The argument for {obj} rests on the idea that {rng.choice(CLAIMS)}, "
                f"which is {rng.choice(HEDGES)} a stretch.")
    elif shape == 3:
        claim = rng.choice(CLAIMS)
        text = (f"{claim[0].upper()}{claim[1:]}, and {rng.choice(ACTORS)} "
                f"{rng.choice(VERBS)} {obj} {rng.choice(TAILS)}.")
    else:
        text = (f"Compare {obj} with what was promised: {rng.choice(CLAIMS)}, "
                f"{rng.choice(HEDGES)}.")
    if link and rng.random() < 0.3:
        text += f" The details are in {link_to(rng, rng.choice(LINK_TEXTS))}."
    if emphasis:
        words = text.split(" ")
        candidates = [i for i, w in enumerate(words) if w.isalpha() and len(w) > 4]
        if candidates:
            i = rng.choice(candidates)
            words[i] = f"*{words[i]}*"
            text = " ".join(words)
        else:
            text = f"That is *{rng.choice(EMPHASIS)}* the whole story. " + text
    return text


def quote_sentence(rng: random.Random) -> str:
    first, second = rng.sample(QUOTE_CLAIMS, 2)
    return (f"{rng.choice(QUOTE_SUBJECTS)} {rng.choice(QUOTE_VERBS)} that {first}, "
            f"and that {second}.")


def make_body(rng: random.Random, dek: str, outlet: str) -> str:
    """Write a ~600-word post: opening, attributed quote, commentary, sometimes a list."""
    blocks = [f"{dek} {sentence(rng)}"]
    blocks.append(f"{outlet}:")
    quote_paragraphs = []
    for _ in range(rng.randint(2, 3)):
        quote_paragraphs.append("> " + " ".join(quote_sentence(rng)
                                                for _ in range(rng.randint(2, 3))))
    blocks.append("\n>\n".join(quote_paragraphs))
    paragraphs = rng.randint(4, 6)
    list_at = rng.randrange(2, paragraphs) if rng.random() < 0.4 else -1
    for index in range(paragraphs):
        count = rng.randint(3, 4)
        linked = rng.randrange(count) if rng.random() < 0.7 else -1
        stressed = rng.randrange(count) if rng.random() < 0.5 else -1
        blocks.append(" ".join(sentence(rng, link=i == linked, emphasis=i == stressed)
                               for i in range(count)))
        if index == list_at:
            blocks.append("What to watch next:")
            blocks.append("\n".join(f"- {item}." for item in
                                    rng.sample(LIST_ITEMS, rng.randint(3, 5))))
    return "\n\n".join(blocks) + "\n"


def make_title(rng: random.Random) -> str:
    actor = rng.choice(ACTORS)
    obj = rng.choice(OBJECTS)
    shape = rng.choice(TITLE_SHAPES)
    text = shape.format(Actor=actor, Verb=rng.choice(VERBS), Object=obj)
    return titlecase(text[0].upper() + text[1:])


def generate_posts(count: int, seed: int = SEED) -> list[GeneratedPost]:
    """Make count posts, oldest first, over ~10 years ending in mid-2025."""
    rng = random.Random(seed)
    start = datetime(2015, 6, 1, tzinfo=timezone.utc)
    span_minutes = 10 * 365 * 24 * 60
    minutes = sorted(rng.randrange(span_minutes) for _ in range(count))
    tag_weights = [1 / (rank + 1) ** 0.8 for rank in range(len(TAGS))]
    shuffled_tags = list(TAGS)
    rng.shuffle(shuffled_tags)
    seen_slugs: dict[str, int] = {}
    posts = []
    for offset in minutes:
        hours = rng.choice((-8, -7, -5, -4, -4, -4, -5, 0, 1, 2, 9))
        tz = timezone(timedelta(hours=hours))
        date = (start + timedelta(minutes=offset)).astimezone(tz).replace(second=0)
        posts.append(make_post(rng, date, seen_slugs, shuffled_tags, tag_weights))
    return posts


def make_post(rng: random.Random, date: datetime, seen_slugs: dict[str, int],
              tag_order: list[str], tag_weights: list[float]) -> GeneratedPost:
    """Make one post dated date, with a slug not yet in seen_slugs (which it updates)."""
    title = make_title(rng)
    base = slugify(title)
    seen_slugs[base] = seen_slugs.get(base, 0) + 1
    slug = base if seen_slugs[base] == 1 else f"{base}-{seen_slugs[base]}"
    section = rng.choices(SECTIONS, weights=SECTION_WEIGHTS)[0]
    dek = sentence(rng)
    outlets = rng.sample(OUTLETS, rng.randint(1, 2))
    sources = tuple((name, f"https://{domain}/{date:%Y/%m}/{slug[:40]}/")
                    for name, domain in outlets)
    tags: list[str] = []
    for tag in rng.choices(tag_order, weights=tag_weights, k=rng.randint(2, 5)):
        if tag not in tags:
            tags.append(tag)
    body = make_body(rng, dek, outlets[0][0])
    return GeneratedPost(title, slug, section, date, dek, sources, tuple(tags),
                         rng.choice(AUTHORS), body)


def added_post(n: int, seed: int = SEED) -> GeneratedPost:
    """Make the post the add-a-post rebuild writes in its run n: the same at every size.

    Its slug starts with 'added-', which no generated title does, so it is new in
    every corpus. Its tags are drawn evenly from all of them, so in a small corpus
    one may be new, in every engine alike.
    """
    rng = random.Random(seed + 1)
    post = make_post(rng, ADDED_POST_DATE, {}, list(TAGS), [1.0] * len(TAGS))
    return replace(post, slug=f"added-{post.slug}",
                   body=post.body + "\n" + ADDED_SENTENCE.format(n=n) + "\n")


# --- writers -----------------------------------------------------------------------

def yaml_str(text: str) -> str:
    """Quote a string for YAML (JSON strings are valid YAML flow scalars)."""
    return json.dumps(text, ensure_ascii=False)


def is_marginalia(engine: str) -> bool:
    return engine in MARGINALIA_MARKDOWN


def post_rel_path(engine: str, post: GeneratedPost) -> str:
    if engine == "hugo":
        return f"content/{post.section[1]}/{post.slug}.md"
    return f"content/posts/{post.date:%Y}/{post.slug}.md"


def yaml_front_matter(post: GeneratedPost, engine: str) -> str:
    lines = ["---", f"title: {yaml_str(post.title)}"]
    if is_marginalia(engine):
        lines.append(f"section: {yaml_str(post.section[0])}")
    # Titles repeat in a big corpus; an explicit slug keeps every permalink unique.
    lines.append(f"slug: {post.slug}")
    lines.append(f"date: {post.date.isoformat()}")
    lines.append(f"dek: {yaml_str(post.dek)}")
    if engine == "hugo":
        lines.append(f"description: {yaml_str(post.dek)}")
    lines.append("sources:")
    for name, url in post.sources:
        lines += [f"  - name: {yaml_str(name)}", f"    url: {url}"]
    lines.append("tags: [" + ", ".join(yaml_str(t) for t in post.tags) + "]")
    lines.append(f"author: {yaml_str(post.author)}")
    lines.append("---")
    return "\n".join(lines) + "\n\n"


def pelican_metadata(post: GeneratedPost) -> str:
    sources = "; ".join(f"{name} <{url}>" for name, url in post.sources)
    return "\n".join([
        f"Title: {post.title}",
        f"Date: {post.date:%Y-%m-%d %H:%M%z}",
        f"Category: {post.section[0]}",
        f"Tags: {', '.join(post.tags)}",
        f"Author: {post.author}",
        f"Slug: {post.slug}",
        f"Summary: {post.dek}",
        f"Sources: {sources}",
    ]) + "\n\n"


def render_post(engine: str, post: GeneratedPost) -> str:
    head = pelican_metadata(post) if engine == "pelican" else yaml_front_matter(post, engine)
    return head + post.body


def marginalia_config(markdown_engine: str = "python-markdown") -> str:
    lines = [
        "# Generated by bench/generate.py: a benchmark corpus, not a real site.",
        f'title = "{SITE_TITLE}"', f'description = "{SITE_DESCRIPTION}"',
        f'base_url = "{BASE_URL}"', 'language = "en-US"', 'timezone = "America/New_York"',
        'publisher = "Bench Media"', "copyright_start_year = 2015",
        f"posts_per_page = {POSTS_PER_PAGE}",
        'permalink = "/{year}/{month}/{day}/{slug}/"', "",
    ]
    for name, slug, description in SECTIONS:
        lines += ["[[sections]]", f'name = "{name}"', f'slug = "{slug}"',
                  f'description = "{description}"', ""]
    lines += ["[comments]", 'provider = "none"', "",
              "[feed]", f"items = {FEED_ITEMS}", "full_content = true", "",
              "# The peers draw no share cards; a drawn card costs about 9 ms (README).",
              "[images]", "cards = false", ""]
    if markdown_engine != "python-markdown":
        lines += ["[markdown]", f'engine = "{markdown_engine}"', ""]
    return "\n".join(lines)


PELICAN_CONF = '''\
# Generated by bench/generate.py: Pelican settings comparable to the Marginalia corpus.
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SITENAME = {title!r}
SITEURL = {base_url!r}
TIMEZONE = "America/New_York"
DEFAULT_LANG = "en"
PATH = os.path.join(HERE, "content")
ARTICLE_PATHS = ["posts"]
PAGE_PATHS = []
STATIC_PATHS = []

# Article pages at the same permalinks as Marginalia's.
ARTICLE_URL = "{{date:%Y}}/{{date:%m}}/{{date:%d}}/{{slug}}/"
ARTICLE_SAVE_AS = ARTICLE_URL + "index.html"
# Paginated section (= category) and tag pages, a tag index and a paginated home page.
CATEGORY_URL = "section/{{slug}}/"
CATEGORY_SAVE_AS = CATEGORY_URL + "index.html"
TAG_URL = "tags/{{slug}}/"
TAG_SAVE_AS = TAG_URL + "index.html"
TAGS_URL = "tags/"
TAGS_SAVE_AS = TAGS_URL + "index.html"
DEFAULT_PAGINATION = {per_page}
PAGINATED_TEMPLATES = {{"index": None, "category": None, "tag": None}}
PAGINATION_PATTERNS = (
    (1, "{{url}}", "{{save_as}}"),
    (2, "{{base_name}}/page/{{number}}/", "{{base_name}}/page/{{number}}/index.html"),
)
# No author, archive or category-list pages, which the comparison leaves out.
DIRECT_TEMPLATES = ["index", "tags"]
AUTHOR_SAVE_AS = ""
AUTHOR_URL = ""
ARCHIVES_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
CATEGORIES_SAVE_AS = ""
PAGE_SAVE_AS = ""
DRAFT_SAVE_AS = ""

# Full-content RSS feeds of the newest {feed_items} posts: the site's, each section's
# and each tag's, where Marginalia writes them.
FEED_DOMAIN = SITEURL
FEED_ALL_RSS = "feed.xml"
FEED_ALL_ATOM = None
CATEGORY_FEED_ATOM = None
CATEGORY_FEED_RSS = "section/{{slug}}/feed.xml"
TAG_FEED_ATOM = None
TAG_FEED_RSS = "tags/{{slug}}/feed.xml"
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TRANSLATION_FEED_ATOM = None
TRANSLATION_FEED_RSS = None
FEED_MAX_ITEMS = {feed_items}
RSS_FEED_SUMMARY_ONLY = False

# The same Markdown extensions as the Marginalia corpus (plus Pelican's own 'meta').
MARKDOWN = {{
    "extension_configs": {{
        "markdown.extensions.smarty": {{}},
        "markdown.extensions.footnotes": {{}},
        "markdown.extensions.tables": {{}},
        "markdown.extensions.fenced_code": {{}},
        "markdown.extensions.attr_list": {{}},
    }},
    "output_format": "html5",
}}

# Pelican's content cache, so that rebuilds are as fast as Pelican can make them.
CACHE_CONTENT = True
LOAD_CONTENT_CACHE = True
CACHE_PATH = os.path.join(HERE, "cache")
CHECK_MODIFIED_METHOD = "mtime"
DELETE_OUTPUT_DIRECTORY = False
'''


def pelican_config() -> str:
    return PELICAN_CONF.format(title=SITE_TITLE, base_url=BASE_URL.rstrip("/"),
                               per_page=POSTS_PER_PAGE, feed_items=FEED_ITEMS)


def hugo_config() -> str:
    lines = [
        "# Generated by bench/generate.py: Hugo settings comparable to the Marginalia corpus.",
        f'baseURL = "{BASE_URL}"', 'locale = "en-us"', f'title = "{SITE_TITLE}"',
        'timeZone = "America/New_York"',
        # No sitemap, robots.txt or 404, which the comparison leaves out.
        'disableKinds = ["sitemap", "robotsTXT", "404"]',
        "enableRobotsTXT = false", "",
        "[params]", f'description = "{SITE_DESCRIPTION}"', "",
        # No /page/1/ redirect pages, which Marginalia does not write either.
        "[pagination]", f"pagerSize = {POSTS_PER_PAGE}", "disableAliases = true", "",
        "[services.rss]", f"limit = {FEED_ITEMS}", "",
        # Tags only: sections are the categories here, as in Marginalia.
        "[taxonomies]", 'tag = "tags"', "",
        "[outputs]", 'home = ["html", "rss"]', 'section = ["html", "rss"]',
        'taxonomy = ["html"]', 'term = ["html", "rss"]', 'page = ["html"]', "",
        "[markup.goldmark.extensions]", "typographer = true", "",
        "[permalinks.page]",
    ]
    lines += [f'{slug} = "/:year/:month/:day/:slug/"' for _, slug, _ in SECTIONS]
    return "\n".join(lines) + "\n"


HUGO_LAYOUTS = {
    "baseof.html": """\
<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ block "title" . }}{{ .Title }} | {{ site.Title }}{{ end }}</title>
<link rel="canonical" href="{{ .Permalink }}">
{{ with or (.OutputFormats.Get "rss") (site.Home.OutputFormats.Get "rss") }}<link rel="alternate" type="application/rss+xml" href="{{ .Permalink }}">{{ end }}
</head>
<body>
<header><a href="{{ site.Home.RelPermalink }}">{{ site.Title }}</a>
{{ partialCached "nav.html" . }}
</header>
<main>{{ block "main" . }}{{ end }}</main>
<footer><p>&copy; Bench Media</p></footer>
</body>
</html>
""",
    # Cached once per build: 'range site.Sections' on every page makes Hugo 0.168
    # superlinear (a 10,000-post build took ~110 s instead of ~16 s).
    "_partials/nav.html": """\
<nav><ul>{{ range site.Sections }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul></nav>
""",
    "_partials/summary.html": """\
<article class="summary">
  <p class="section-label"><a href="{{ .CurrentSection.RelPermalink }}">{{ .CurrentSection.Title }}</a></p>
  <h2><a href="{{ .RelPermalink }}">{{ .Title }}</a></h2>
  <p class="dek">{{ .Params.dek }}</p>
  <p class="meta">{{ .Params.author }} &middot; <time datetime="{{ .Date.Format "2006-01-02T15:04:05-07:00" }}">{{ .Date.Format "January 2, 2006" }}</time></p>
</article>
""",
    "_partials/pager.html": """\
<nav class="pagination">
{{ with .Prev }}<a rel="prev" href="{{ .URL }}">Newer</a>{{ end }}
<span>Page {{ .PageNumber }} of {{ .TotalPages }}</span>
{{ with .Next }}<a rel="next" href="{{ .URL }}">Older</a>{{ end }}
</nav>
""",
    "home.html": """\
{{ define "title" }}{{ site.Title }}{{ end }}
{{ define "main" }}
{{ $pager := .Paginate site.RegularPages }}
{{ range $pager.Pages }}{{ partial "summary.html" . }}{{ end }}
{{ partial "pager.html" $pager }}
{{ end }}
""",
    "section.html": """\
{{ define "main" }}
<h1>{{ .Title }}</h1>
<p class="dek">{{ .Params.description }}</p>
{{ $pager := .Paginate .RegularPages }}
{{ range $pager.Pages }}{{ partial "summary.html" . }}{{ end }}
{{ partial "pager.html" $pager }}
{{ end }}
""",
    "taxonomy.html": """\
{{ define "main" }}
<h1>Tags</h1>
<ul class="tag-index">
{{ range .Data.Terms.Alphabetical }}<li><a href="{{ .Page.RelPermalink }}">{{ .Page.LinkTitle }}</a> ({{ .Count }})</li>
{{ end }}</ul>
{{ end }}
""",
    "term.html": """\
{{ define "main" }}
<h1>{{ .Title }}</h1>
{{ $pager := .Paginate .RegularPages }}
{{ range $pager.Pages }}{{ partial "summary.html" . }}{{ end }}
{{ partial "pager.html" $pager }}
{{ end }}
""",
    "page.html": """\
{{ define "main" }}
<article class="post">
  <p class="section-label"><a href="{{ .CurrentSection.RelPermalink }}">{{ .CurrentSection.Title }}</a></p>
  <h1>{{ .Title }}</h1>
  <p class="dek">{{ .Params.dek }}</p>
  <p class="meta">By {{ .Params.author }} &middot; <time datetime="{{ .Date.Format "2006-01-02T15:04:05-07:00" }}">{{ .Date.Format "January 2, 2006, 3:04 PM" }}</time></p>
  <div class="post-body">
{{ .Content }}
  </div>
  <aside class="sources"><h2>Sources</h2><ul>
  {{ range .Params.sources }}<li><a href="{{ .url }}">{{ .name }}</a></li>{{ end }}
  </ul></aside>
  <ul class="tags">{{ range .GetTerms "tags" }}<li><a href="{{ .RelPermalink }}">{{ .LinkTitle }}</a></li>{{ end }}</ul>
  <nav class="post-neighbours">
  {{ with .PrevInSection }}<a rel="prev" href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}
  {{ with .NextInSection }}<a rel="next" href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}
  </nav>
</article>
{{ end }}
""",
    # Hugo's built-in RSS template carries summaries only; this one carries full
    # content, for the home page, each section and each tag.
    "rss.xml": """\
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\"?>" | safeHTML }}
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>{{ if .IsHome }}{{ site.Title }}{{ else }}{{ .Title }} | {{ site.Title }}{{ end }}</title>
<link>{{ .Permalink }}</link>
<description>{{ or .Params.description site.Params.description }}</description>
<language>en-US</language>
{{- $pages := first site.Config.Services.RSS.Limit (cond .IsHome site.RegularPages .RegularPages) }}
{{- with $pages }}<lastBuildDate>{{ (index . 0).Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" }}</lastBuildDate>{{ end }}
{{- range $pages }}
<item>
<title>{{ .Title }}</title>
<link>{{ .Permalink }}</link>
<guid isPermaLink="true">{{ .Permalink }}</guid>
<pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" }}</pubDate>
<dc:creator>{{ .Params.author }}</dc:creator>
<category>{{ .CurrentSection.Title }}</category>
<description>{{ .Params.dek }}</description>
<content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/">{{ printf "<![CDATA[%s]]>" .Content | safeHTML }}</content:encoded>
</item>
{{- end }}
</channel>
</rss>
""",
}


def site_files(engine: str, posts: list[GeneratedPost]) -> dict[str, str]:
    """Return every file of the site for engine, keyed by '/'-separated path."""
    files: dict[str, str] = {}
    if is_marginalia(engine):
        files["site.toml"] = marginalia_config(MARGINALIA_MARKDOWN[engine])
    elif engine == "pelican":
        files["pelicanconf.py"] = pelican_config()
    elif engine == "hugo":
        files["hugo.toml"] = hugo_config()
        for name, text in HUGO_LAYOUTS.items():
            files[f"layouts/{name}"] = text
        for name, slug, description in SECTIONS:
            files[f"content/{slug}/_index.md"] = (
                f"---\ntitle: {yaml_str(name)}\ndescription: {yaml_str(description)}\n---\n")
    else:
        raise ValueError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    for post in posts:
        files[post_rel_path(engine, post)] = render_post(engine, post)
    return files


def write_site(engine: str, count: int, out_dir: Path, seed: int = SEED) -> list[Path]:
    """Write a fresh corpus site into out_dir (replacing it); return the post paths."""
    posts = generate_posts(count, seed)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    made_dirs: set[Path] = set()
    for rel_path, text in site_files(engine, posts).items():
        path = out_dir / rel_path
        if path.parent not in made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(path.parent)
        path.write_text(text, encoding="utf-8")
    return [out_dir / post_rel_path(engine, post) for post in posts]


def write_post(engine: str, site_dir: Path, post: GeneratedPost) -> Path:
    """Write one more post into a generated site, in engine's format; return its path."""
    path = site_dir / post_rel_path(engine, post)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_post(engine, post), encoding="utf-8")
    return path


def edit_post(path: Path, n: int) -> None:
    """Append one sentence to a post's body, as an editor's small fix would."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("\n" + EDIT_SENTENCE.format(n=n) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=1000, help="how many posts (default 1000)")
    parser.add_argument("--out", type=Path, required=True, help="the site folder to (re)write")
    parser.add_argument("--engine", choices=ENGINES, default="marginalia")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if args.posts < 1:
        parser.error("--posts must be at least 1")
    paths = write_site(args.engine, args.posts, args.out, args.seed)
    words = sum(len(p.read_text(encoding="utf-8").split()) for p in paths[:200])
    print(f"wrote {len(paths)} {args.engine} posts to {args.out} "
          f"(~{words // min(200, len(paths))} words a post incl. front matter)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
