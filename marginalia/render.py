"""Render the site model into output files: pages, indexes and feeds."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import jinja2
from markupsafe import Markup

from .config import CONFIG_NAME
from .errors import BuildError, ConfigError, raise_if_any
from .feeds import FeedSpec, feed_names, permalink, render_feed_files
from .images import picture_html, responsive_body
from .model import OutputFile, Page, Pager, Post, Site
from .parse import Progress
from .pool import Job, can_fork_workers, run_jobs
from .templates import compile_layouts, render_template, summary_renderer
from .search import SEARCH_URL
from .related import latest_in_section, section_posts
from .theme import Theme
from .assemble import archive_url, author_url, hold_reason
from .incremental import (Fingerprints, Recorder, RenderCache, TrackedSite, TrackedView,
                          Uncacheable)
from .sitefiles import (check_collisions, render_headers, render_redirects, render_robots,
                        render_sitemap)
from .urls import collect_urls, output_path, prefix_root_relative, rewrite_urls, slugify
from .write import Staged, StagedOutput


# Post pages are checked for changes about this many at a time before one by one.
POST_GROUP = 64


def post_groups(posts: Sequence[Post]) -> list[tuple[str, list[Post]]]:
    """Share posts among groups by a hash of their file's path, so that adding or
    removing a post changes only its own group and its neighbours'."""
    count = 1 << (len(posts) // POST_GROUP).bit_length()
    groups: dict[int, list[Post]] = defaultdict(list)
    for post in posts:
        groups[zlib.crc32(post.rel_path.encode("utf-8", "surrogatepass")) % count].append(post)
    return [(f"posts:{number}/{count}", group) for number, group in sorted(groups.items())]


def pager_urls(count: int, per_page: int, base_url: str) -> list[str]:
    """The URLs of a listing of count posts: base_url, base_url/page/2/, ..."""
    total = max(1, -(-count // per_page))
    return [base_url] + [f"{base_url}page/{n}/" for n in range(2, total + 1)]


def listing_paths(count: int, per_page: int, base_url: str) -> list[str]:
    """The files of a listing of count posts."""
    return [output_path(url) for url in pager_urls(count, per_page, base_url)]


def paginate(posts: Sequence[Post], per_page: int, base_url: str) -> list[Pager]:
    """Split posts into pages at base_url, base_url/page/2/, ..."""
    urls = pager_urls(len(posts), per_page, base_url)
    total = len(urls)
    return [Pager(number=n, total=total,
                  posts=tuple(posts[(n - 1) * per_page:n * per_page]), url=urls[n - 1],
                  previous_url=urls[n - 2] if n > 1 else None,
                  next_url=urls[n] if n < total else None, first_url=base_url)
            for n in range(1, total + 1)]


class Renderer:
    """Holds what every page shares, and renders one kind of output at a time."""

    def __init__(self, site: Site, env: jinja2.Environment, theme: Theme, now: datetime,
                 preview: bool = False, cache: RenderCache | None = None):
        self.site = site
        self.env = env
        self.theme = theme
        self.now = now
        self.preview = preview
        self.config = site.config
        self.to_site = prefix_root_relative(self.config.base_path)
        self.recorder = Recorder()
        self.images = site.images  # by post rel_path; a quick render puts an edit's in
        self._section_views: dict[str, TrackedView] = {}
        self._latest: dict[str, tuple[Post, ...]] = {}  # by section name
        self.feed_bodies: dict[str, str] = {}
        self.shared = self._shared_context()
        self.cache = cache
        self.fingerprints = Fingerprints(site, (
            repr(self.config), templates_digest(env), sorted(theme.urls.items()),
            site.copyright_years, repr(page_menus(site)), repr(config_sections(site)), preview,
            [(p.rel_path, status) for p in site.posts if (status := self.post_status(p))]))
        if cache is not None:
            cache.static = self.fingerprints.static

    def renders_most_pages(self) -> bool:
        """Whether this build renders (nearly) every page: the first into an output
        folder, or one after a change to something every page shares."""
        return (self.cache is None or not self.cache.live
                or self.cache.previous_static != self.fingerprints.static)

    def track(self, listing: Any) -> TrackedView:
        return TrackedView(listing, self.recorder)

    def section_view(self, name: str) -> TrackedView:
        """The one view of a section that every page of it shares."""
        if name not in self._section_views:
            section = next(s for s in self.site.sections if s.name == name)
            self._section_views[name] = self.track(section)
        return self._section_views[name]

    def _shared_context(self) -> dict[str, Any]:
        config, site = self.config, self.site
        header = [p for p in site.pages if p.menu == "header"]
        footer_pages = [p for p in site.pages if p.menu == "footer"]
        footer_links = ([{"label": link.label, "url": link.url} for link in config.footer_links]
                        or [{"label": p.title, "url": p.url} for p in footer_pages])
        return {
            "site": TrackedSite({
                "title": config.title,
                "description": config.description,
                "base_url": config.base_url,
                "language": config.language,
                "publisher": config.publisher,
                "copyright_years": site.copyright_years,
                "sections": tuple(self.track(s) for s in site.sections),
                "tags": site.tags,
                "footer_links": footer_links,
                "header_links": [{"label": p.title, "url": p.url} for p in header],
                "feed_url": "/feed.xml",
                "atom_url": "/atom.xml",
                "json_feed_url": "/feed.json",
                "favicon_url": self.favicon_url(),
                "search_url": SEARCH_URL if config.search.enabled else "",
                "authors": site.authors,
                "archives": site.archives,
                "comments_provider": config.comments.provider,
                "comments_settings": dict(config.comments.settings),
                "extra": config.extra,
            }, self.recorder),
            "section_urls": {s.name: s.url for s in site.sections},
            "preview": self.preview,
            "url_for": self.url_for,
            "absolute_url": self.absolute_url,
            "asset_url": self.asset_url,
            "local_date": self.local_date,
            "json_for_script": json_for_script,
            "archive_url": self.archive_url,
            "author_url": self.author_url,
            "post_status": self.post_status,
            "tag_url": self.tag_url,
            "summary": summary_renderer(self.env),
        }

    def favicon_url(self) -> str:
        """The site URL of the favicon site.toml names, or its absolute URL."""
        favicon = self.config.favicon
        area, _, name = favicon.partition("/")
        if area == "theme":
            url = self.theme.urls.get(name)
        elif area == "content":
            url = dict(self.site.asset_urls).get(favicon)
        else:
            return favicon
        if url is None:
            raise ConfigError(f"favicon '{favicon}' is not among the files the site "
                              "copies; name a file under theme/ or content/", CONFIG_NAME)
        return url

    def url_for(self, url: str) -> str:
        """Return the link to a site-relative URL, under the site's base path."""
        return self.to_site(url) if url.startswith("/") else url

    def absolute_url(self, url: str) -> str:
        return permalink(self.site, url) if url.startswith("/") else url

    def asset_url(self, name: str) -> str:
        if name not in self.theme.urls:
            raise BuildError(f"asset_url('{name}'): no such file in theme/; "
                             f"known: {', '.join(sorted(self.theme.urls))}", "layouts")
        return self.url_for(self.theme.urls[name])

    def local_date(self, moment: datetime) -> datetime:
        return moment.astimezone(self.config.tz)

    def archive_url(self, moment: datetime) -> str:
        local = self.local_date(moment)
        return archive_url(local.year, local.month)

    def author_url(self, name: str) -> str | None:
        slug = slugify(name)
        return author_url(slug) if slug else None

    def tag_url(self, name: str) -> str:
        return f"/tags/{slugify(name)}/"

    def post_status(self, post: Post) -> str:
        """Say why a post shown here would be held back from a real build, for a label."""
        reason = hold_reason(post, self.now)
        return "scheduled" if reason == "future" else reason

    def page(self, template: str, url: str, source: str, *, title: str | None = None,
             description: str | None = None, og_type: str = "website",
             derived: Callable[[], dict[str, Any]] | None = None,
             **context: Any) -> OutputFile:
        """Render one page; 'derived' makes context that follows from the rest, when needed."""
        rel_path = output_path(url)
        page_key = self._page_key((template, url, title, description, og_type), context)
        if page_key and self.cache:
            reused = self.cache.lookup(rel_path, page_key, self.fingerprints)
            if reused:
                return OutputFile(rel_path, b"", source, digest=reused, links=None)
        meta = {"title": title or self.config.title,
                "description": description or self.config.description,
                "type": og_type}
        self.recorder.used_site_content = False
        if derived is not None:
            context.update(derived())
        html = render_template(self.env, template, {**self.shared, **context, "meta": meta,
                                                    "canonical_url": self.absolute_url(url),
                                                    "page_url": url})
        content = html.encode("utf-8")
        links = collect_urls(html)
        digest = ""
        if page_key and self.cache:
            digest = self.cache.store(rel_path, page_key, self.recorder.used_site_content,
                                      content, links, self.fingerprints)
        return OutputFile(rel_path, content, source, digest=digest, links=links)

    def feed(self, spec: FeedSpec, json_feed: bool) -> list[OutputFile]:
        """Render a listing's feeds, or reuse them when their items are unchanged."""
        names = feed_names(json_feed)
        # A feed is dated by its newest item; only an empty one takes the site's date.
        page_key = self._page_key((spec.title, spec.description, spec.home_url),
                                  {"posts": spec.posts[:self.config.feed.items],
                                   "newest": None if spec.posts else self.site.newest_date})
        if page_key and self.cache:
            reused = [self.cache.lookup(spec.url(name).lstrip("/"), page_key,
                                        self.fingerprints) for name in names]
            if all(reused):
                return [OutputFile(spec.url(name).lstrip("/"), b"", f"{spec.source} feed",
                                   digest=found) for name, found in zip(names, reused)]
        files = render_feed_files(self.site, spec, json_feed, self.feed_bodies)
        if page_key and self.cache:
            for output in files:
                self.cache.store(output.rel_path, page_key, False, output.content, (),
                                 self.fingerprints)
        return files

    def redirect_page(self, alias: str, post: Post) -> OutputFile:
        """A page at an old URL that sends readers on to the post's current one."""
        target = self.absolute_url(post.url)
        html = render_template(self.env, "redirect.html", {
            **self.shared, "target_url": target, "post": post,
            "meta": {"title": post.title, "description": "", "type": "website"},
            "canonical_url": target, "page_url": alias})
        return OutputFile(output_path(alias), html.encode("utf-8"), f"{post.rel_path} (alias)")

    def _page_key(self, fixed: tuple, context: dict[str, Any]) -> str | None:
        if self.cache is None:
            return None
        try:
            return self.fingerprints.page_key(fixed, context)
        except Uncacheable:
            return None

    def body(self, item: Post | Page) -> Markup:
        body_html = item.body_html
        images = self.images.get(item.rel_path) if isinstance(item, Post) else None
        if images is not None and images.body:
            body_html = responsive_body(body_html, dict(images.body))
        return Markup(rewrite_urls(body_html, self.to_site))

    def lead_image(self, post: Post) -> Markup:
        """The post's lead image under its headline, with its credit; or nothing."""
        images = self.images.get(post.rel_path)
        if images is None or images.lead is None:
            return Markup("")
        return Markup(rewrite_urls(picture_html(images.lead, post.image_alt, lead=True),
                                   self.to_site))

    def share_image(self, post: Post) -> dict[str, Any] | None:
        """What og:image and twitter:image show: the post's 1200x630 card."""
        images = self.images.get(post.rel_path)
        if images is None or images.card is None:
            return None
        card = images.card
        return {"url": self.absolute_url(card.url), "width": card.width,
                "height": card.height, "type": card.mime, "alt": images.card_alt}

    def post_pages(self, name: str, posts: Sequence[Post]) -> list[OutputFile]:
        """Render a group of post pages; when none of them has changed, reuse them at once."""
        def render() -> list[OutputFile]:
            files, errors = [], []
            for post in posts:
                try:
                    files.append(self.post_page(post))
                except BuildError as error:
                    errors.append(error)
            raise_if_any(errors)
            return files

        return self._group(name, self._post_inputs(posts),
                           [output_path(p.url) for p in posts],
                           [p.rel_path for p in posts], render)

    def _group(self, name: str, inputs: str | None, rel_paths: list[str],
               sources: list[str], render: Callable[[], list[OutputFile]]
               ) -> list[OutputFile]:
        """Reuse a group of pages at once when what they were rendered from is unchanged;
        otherwise render them, page by page, and remember what they came from."""
        if inputs and self.cache:
            digests = self.cache.lookup_group(name, inputs, rel_paths, self.fingerprints)
            if digests is not None:
                return [OutputFile(rel_path, b"", source, digest=digest, links=None)
                        for rel_path, source, digest in zip(rel_paths, sources, digests)]
        files = render()
        if inputs and self.cache:
            self.cache.store_group(name, inputs, rel_paths, self.fingerprints)
        return files

    def _post_inputs(self, posts: Sequence[Post]) -> str | None:
        """Digest what post_page gives the template for each post: the post, its
        neighbours and the posts listed under it. Its section and its status are in
        what every page shares."""
        if self.cache is None:
            return None
        digests, neighbours = self.fingerprints.posts, self.site.neighbours
        parts = []
        for post in posts:
            around = neighbours[post.rel_path]
            related, latest = self.further_reading(post)
            parts.append(repr((digests[id(post)], post.rel_path,
                               around.previous and digests[id(around.previous)],
                               around.next and digests[id(around.next)],
                               [digests[id(p)] for p in related],
                               [digests[id(p)] for p in latest])))
        return "|".join(parts)

    def further_reading(self, post: Post) -> tuple[tuple[Post, ...], tuple[Post, ...]]:
        """The posts listed under a post: related ones, and the latest of its section."""
        count = self.config.related.section_count
        related = self.site.related.get(post.rel_path, ())
        if post.section not in self._latest:
            section = next(s for s in self.site.sections if s.name == post.section)
            # Enough to list count after leaving out the post and those Related shows.
            self._latest[post.section] = latest_in_section(
                section, count + self.config.related.count if count else 0)
        return related, section_posts(self._latest[post.section], post, count, related)

    def post_page(self, post: Post) -> OutputFile:
        neighbours = self.site.neighbours[post.rel_path]
        related, latest = self.further_reading(post)
        return self.page("post.html", post.url, post.rel_path, title=post.title,
                         description=post.summary, og_type="article", post=post,
                         section=self.section_view(post.section),
                         previous_post=neighbours.previous,
                         next_post=neighbours.next, status=self.post_status(post),
                         related_posts=related, section_posts=latest,
                         derived=lambda: {
                             "content": self.body(post),
                             "json_ld": self.article_data(post),
                             "lead_image": self.lead_image(post),
                             "share_image": self.share_image(post),
                             "show_comments": (post.comments and
                                               self.config.comments.provider != "none")})

    def article_data(self, post: Post) -> dict[str, Any]:
        """Describe a post as a schema.org NewsArticle, for search engines."""
        config = self.config
        publisher: dict[str, Any] = {"@type": "Organization", "name": config.publisher}
        if "logo.svg" in self.theme.urls or "logo.png" in self.theme.urls:
            logo = "logo.png" if "logo.png" in self.theme.urls else "logo.svg"
            publisher["logo"] = {"@type": "ImageObject",
                                 "url": self.absolute_url(self.theme.urls[logo])}
        author = ({"@type": "Person", "name": post.author,
                   "url": self.absolute_url(author_url(slugify(post.author)))}
                  if post.author and slugify(post.author) else publisher)
        data: dict[str, Any] = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": post.title,
            "description": post.summary,
            "url": self.absolute_url(post.url),
            "mainEntityOfPage": self.absolute_url(post.url),
            "datePublished": post.date.isoformat(),
            "dateModified": post.last_modified.isoformat(),
            "author": author,
            "publisher": publisher,
            "articleSection": post.section,
            "inLanguage": config.language,
        }
        images = self.images.get(post.rel_path)
        if images is not None and (images.lead or images.card):
            shown = images.lead.largest if images.lead else images.card
            assert shown is not None
            data["image"] = {"@type": "ImageObject", "url": self.absolute_url(shown.url),
                             "width": shown.width, "height": shown.height}
        if post.tags:
            data["keywords"] = list(post.tags)
        if post.sources:
            data["citation"] = [{"@type": "CreativeWork", "name": s.name, "url": s.url}
                                for s in post.sources]
        return data

    def standing_page(self, page: Page) -> OutputFile:
        return self.page(page.layout, page.url, page.rel_path, title=page.title,
                         description=page.description, page=page,
                         derived=lambda: {"content": self.body(page)})

    def listing(self, template: str, posts: Sequence[Post], base_url: str, source: str,
                title: str | None = None, description: str | None = None,
                **context: Any) -> list[OutputFile]:
        """Render a paginated listing; when nothing it shows has changed, reuse all its
        pages at once rather than page by page."""
        per_page = self.config.posts_per_page
        rel_paths = listing_paths(len(posts), per_page, base_url)
        inputs = self._listing_inputs((template, base_url, title, description, per_page),
                                      context, posts)
        return self._group(rel_paths[0], inputs, rel_paths, [source] * len(rel_paths),
                           lambda: [self.page(template, pager.url, source, pager=pager,
                                              title=self.page_title(title, pager.number),
                                              description=description, **context)
                                    for pager in paginate(posts, per_page, base_url)])

    def page_title(self, title: str | None, number: int) -> str | None:
        """Name the later pages of a listing: "Page 2" on the home page, else "Name, page 2"."""
        if number == 1:
            return title
        if not title or title == self.config.title:
            return f"Page {number}"
        return f"{title}, page {number}"

    def _listing_inputs(self, fixed: tuple, context: dict[str, Any],
                        posts: Sequence[Post]) -> str | None:
        """Digest everything a listing's pages receive: every page's key follows from it."""
        if self.cache is None:
            return None
        try:
            key = self.fingerprints.page_key(fixed, context)
        except Uncacheable:
            return None
        digests = self.fingerprints.posts
        return key + "|".join([digests[id(p)] for p in posts])


def render_site(site: Site, env: jinja2.Environment, theme: Theme, now: datetime,
                preview: bool = False, copied: Sequence[OutputFile] = (),
                cache: RenderCache | None = None,
                progress: Progress | None = None,
                writer: StagedOutput | None = None) -> tuple[OutputFile, ...]:
    """Render every output file of the site and check that no two share a path.

    Each file goes to the writer as soon as it is made, when one is given, and the
    file without its bytes, once written, is kept instead. Forked render workers
    write the pages they make themselves, through the same writer.
    """
    renderer = Renderer(site, env, theme, now, preview, cache)
    files = _Collected(writer)
    files.extend([*theme.files, *copied])
    errors: list[BuildError] = []
    jobs = page_jobs(site, renderer) + feed_jobs(site, renderer)
    parallel = renderer.renders_most_pages() and can_fork_workers(len(site.posts))
    if parallel:
        _load_bodies(site.posts)
        compile_layouts(env)
    stage = writer.stage if writer is not None else None
    for done, outcome in enumerate(run_jobs(jobs, cache, parallel, stage), start=1):
        if isinstance(outcome, BuildError):
            errors.append(outcome)
        else:
            files.extend(outcome)
        if progress:
            progress("rendering", done, len(jobs))
    raise_if_any(errors)
    files.extend(renderer.redirect_page(alias, post) for post in site.posts
                 for alias in post.aliases)
    files.append(render_redirects(site))
    files.append(render_headers(site, theme))
    files.append(render_sitemap(site, files))
    files.append(render_robots(site))
    check_collisions(files, cache.live if cache else ())
    return tuple(sorted(files, key=lambda f: f.rel_path))


class _Collected(list):
    """The files made so far, each passed to the writer as it is added."""

    def __init__(self, writer: StagedOutput | None):
        super().__init__()
        self.writer = writer

    def append(self, made: OutputFile | Staged) -> None:
        if isinstance(made, Staged):  # already written by a worker: only noted here
            assert self.writer is not None
            super().append(self.writer.record(made))
        else:
            super().append(self.writer.place(made) if self.writer else made)

    def extend(self, outputs) -> None:
        for output in outputs:
            self.append(output)


def _load_bodies(posts: Sequence[Post]) -> None:
    """Load every body now: forked workers must not share the parse cache's open file."""
    for post in posts:
        _ = post.body_html


def page_jobs(site: Site, renderer: Renderer) -> list[Job]:
    """Every HTML page of the site, as jobs that each render a few pages or a listing."""
    return [(renderer.post_pages, (name, posts), {})
            for name, posts in post_groups(site.posts)] + listing_jobs(site, renderer)


def listing_jobs(site: Site, renderer: Renderer) -> list[Job]:
    """Every HTML page that is not a post's: standing pages, listings and archives."""
    jobs: list[Job] = [(renderer.standing_page, (page,), {}) for page in site.pages]
    jobs.append((renderer.listing, ("home.html", site.posts, "/", "home page"),
                 {"title": site.config.title}))
    for section in site.sections:
        jobs.append((renderer.listing, ("section.html", section.posts, section.url,
                                        f"section '{section.name}'"),
                     {"title": section.name, "description": section.description,
                      "section": renderer.track(section)}))
    for tag in site.tags:
        jobs.append((renderer.listing, ("tag.html", tag.posts, tag.url, f"tag '{tag.name}'"),
                     {"title": f"Tagged {tag.name}", "tag": renderer.track(tag)}))
    for author in site.authors:
        jobs.append((renderer.listing, ("author.html", author.posts, author.url,
                                        f"author '{author.name}'"),
                     {"title": author.name, "author": renderer.track(author),
                      "post_count": len(author.posts)}))
    for year in site.archives:
        jobs.append((renderer.page, ("archive.html", year.url, f"archive {year.year}"),
                     {"title": f"Archive: {year.year}", "archive_title": str(year.year),
                      "months": year.months, "year": renderer.track(year)}))
        for month in year.months:
            month_name = date(month.year, month.month, 1).strftime("%B %Y")
            jobs.append((renderer.page, ("archive.html", month.url,
                                         f"archive {year.year}-{month.month:02d}"),
                         {"title": f"Archive: {month_name}", "archive_title": month_name,
                          "months": (month,), "year": renderer.track(year)}))
    jobs += [(renderer.page, ("archives.html", "/archive/", "archive index"),
              {"title": "Archive"}),
             (renderer.page, ("tags.html", "/tags/", "tag index"), {"title": "Tags"}),
             (renderer.page, ("404.html", "/404.html", "not-found page"),
              {"title": "Page not found"})]
    if site.config.search.enabled:
        jobs.append((renderer.page, ("search.html", SEARCH_URL, "search page"),
                     {"title": "Search"}))
    return jobs


def feed_jobs(site: Site, renderer: Renderer) -> list[Job]:
    """The feeds of the whole site, each section and each tag, as jobs."""
    config = site.config
    specs = [FeedSpec(config.title, config.description, "/", site.posts, "site")]
    specs += [FeedSpec(f"{config.title}: {section.name}",
                       section.description or config.description, section.url,
                       section.posts, f"section '{section.name}'")
              for section in site.sections]
    specs += [FeedSpec(f"{config.title}: {tag.name}", f"Posts tagged {tag.name}", tag.url,
                       tag.posts, f"tag '{tag.name}'") for tag in site.tags]
    return [(renderer.feed, (spec,), {"json_feed": index == 0})
            for index, spec in enumerate(specs)]


def templates_digest(env: jinja2.Environment) -> str:
    """Hash the source of every layout, so that a template edit re-renders its pages."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(env.list_templates()):
        source, _, _ = env.loader.get_source(env, name)
        digest.update(f"{name}\0{source}\0".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def page_menus(site: Site) -> list[tuple[str, str, str]]:
    """What every page shows of the standing pages: the header and footer menus. The
    rest of a standing page, its words included, is shown on its own page alone."""
    return [(p.menu, p.title, p.url) for p in site.pages if p.menu]


def config_sections(site: Site) -> list[tuple[str, str, str]]:
    return [(s.name, s.url, s.description) for s in site.sections]


def json_for_script(value: Any) -> Markup:
    """Serialise to JSON that is safe inside a <script> element."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)
