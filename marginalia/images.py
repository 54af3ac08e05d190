"""Pictures: lead and body images at several widths, and a share card for every post.

Each derived file (a width of an image in one format, a share card) is made once
with Pillow and kept in .cache/marginalia/images/, named by a hash of what made
it: the source's bytes or the card's words, colours and font, the transform and
Pillow's version. A build only copies from there into the output, like any other
file, and at its end removes the cached files that no post uses any more.

A derived file's URL holds a hash of its source's bytes alone, so it stays the
same from build to build until the picture itself changes.
"""

from __future__ import annotations

import hashlib
import html
import io
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING

from .assemble import link_resolver
from .config import CONFIG_NAME, RASTER_SUFFIXES
from .discover import SETTLE_NS, signature_of
from .errors import BuildError, ConfigError, ContentError, raise_if_any
from .model import ImageVariant, OutputFile, Post, PostImages, ResponsiveImage, Site
from .pool import worker_count, worker_pool
from .store import Store
from .templates import DEFAULTS_DIR

if TYPE_CHECKING:
    from PIL import Image as PILImage

WIDTHS = (480, 960, 1440)
CARD_SIZE = (1200, 630)
# Decoding takes 4 bytes a pixel: a larger source is refused rather than risked.
MAX_PIXELS = 50_000_000
IMAGES_URL = "/images/"
CACHE_DIR = ".cache/marginalia/images"
MADE_DIR_PARENT = ".cache/marginalia"  # files made by a build wait here until it succeeds
MADE_DIR_PREFIX = "images-made-"
ENCODER = "4"  # bump whenever the settings below change the bytes made
SOURCES_BLOB = "image sources"  # rel_path -> what reading it found, by its signature
FILES_BLOB = "image files"  # cache name -> [size, mtime_ns] of the file as it was made
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
MIME = {"WEBP": "image/webp", "JPEG": "image/jpeg", "PNG": "image/png"}
EXTENSION = {"WEBP": "webp", "JPEG": "jpg", "PNG": "png"}
# The post column: var(--measure) wide, less the page's padding on a narrow screen.
COLUMN_SIZES = "(max-width: 42.5rem) calc(100vw - 2.5rem), 40rem"
FONTS_DIR = DEFAULTS_DIR / "fonts"
FONT_REGULAR, FONT_BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
# Below this much work (in cards, about 12 ms each), starting worker processes costs
# more than it saves.
PARALLEL_WORK = 40


NO_SUCH_FILE = "no such file; put the picture there or fix the path"


class ImageProblem(Exception):
    """A file that cannot be used as an image; the message says why."""


@dataclass(frozen=True, slots=True)
class SourceImage:
    rel_path: str
    path: str
    digest: str  # of the file's bytes
    format: str  # Pillow's name: JPEG, PNG, WEBP or GIF
    width: int  # as shown: after the EXIF orientation
    height: int
    alpha: bool


@dataclass(frozen=True, slots=True)
class Palette:
    background: str = "#fdfcf9"
    text: str = "#1d1d1f"
    muted: str = "#5b5b63"
    accent: str = "#a3261c"
    rule: str = "#dcd8cc"


@dataclass(frozen=True, slots=True)
class CardText:
    """What a generated share card shows."""

    kicker: str  # the section's name
    title: str
    dek: str
    footer: str  # the site's title
    palette: Palette


@dataclass(frozen=True, slots=True)
class Derivation:
    """Files to make from one source image or one card: (cache name, transform) each."""

    outputs: tuple[tuple[str, str], ...]
    source: SourceImage | None = None
    card: CardText | None = None


@dataclass(frozen=True, slots=True)
class TextRun:
    """One line of a card, placed: x and y are its top left corner."""

    x: int
    y: int
    text: str
    size: int
    bold: bool
    colour: str


# --- Pure choices ---------------------------------------------------------------

def responsive_widths(width: int) -> tuple[int, ...]:
    """The widths to make of an image this wide: never wider than the image itself."""
    below = tuple(w for w in WIDTHS if w < width)
    return below + ((width,) if width <= WIDTHS[-1] else ())


def scaled_height(width: int, height: int, new_width: int) -> int:
    return max(1, round(height * new_width / width))


def fallback_format(source_format: str, alpha: bool) -> str:
    """The format for browsers without WebP: the source's own, where browsers show it."""
    if source_format in ("JPEG", "PNG"):
        return source_format
    return "PNG" if alpha or source_format == "GIF" else "JPEG"


def derived_key(*parts: str) -> str:
    """Name a derived file by everything that decides its bytes."""
    from PIL import __version__ as pillow_version

    text = "\0".join((ENCODER, pillow_version, *parts))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def centre_crop_box(width: int, height: int, target: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest box of the target's shape in the middle of a width x height image."""
    target_width, target_height = target
    if width * target_height > height * target_width:  # wider than the target: trim sides
        box_width = round(height * target_width / target_height)
        left = (width - box_width) // 2
        return left, 0, left + box_width, height
    box_height = round(width * target_height / target_width)
    top = (height - box_height) // 2
    return 0, top, width, top + box_height


def theme_palette(css: str) -> Palette:
    """Read the card's colours from the theme's first :root block (its light scheme)."""
    block = re.search(r":root\s*\{([^}]*)\}", css)
    found = dict(re.findall(r"--([\w-]+)\s*:\s*(#[0-9a-fA-F]{3,8})\b", block[1] if block else ""))
    defaults = Palette()
    return Palette(**{name: found.get(name, getattr(defaults, name))
                      for name in ("background", "text", "muted", "accent", "rule")})


Measure = Callable[[str], float]


def wrap_words(text: str, max_width: float, measure: Measure) -> list[str]:
    """Break text into lines no wider than max_width; a word too long for a line is
    broken where it must be."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}" if current else word
        if measure(trial) <= max_width:
            current = trial
            continue
        if current:
            lines.append(current)
        while measure(word) > max_width and len(word) > 1:
            cut = max(1, max(n for n in range(1, len(word) + 1)
                             if n == 1 or measure(word[:n]) <= max_width))
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    return lines


def fit_lines(text: str, max_width: float, max_lines: int | Callable[[int], int],
              sizes: Sequence[int],
              measure: Callable[[str, int], float]) -> tuple[int, list[str]]:
    """The largest size at which text wraps into max_lines (which may depend on the
    size); at the smallest size, the lines that fit, the last ended with an ellipsis."""
    allowed = max_lines if callable(max_lines) else (lambda size: max_lines)
    for size in sizes:
        lines = wrap_words(text, max_width, lambda s: measure(s, size))
        if len(lines) <= allowed(size):
            return size, lines
    size = sizes[-1]
    lines = wrap_words(text, max_width, lambda s: measure(s, size))[:max(1, allowed(size))]
    if not lines:
        return size, lines
    last = lines[-1]
    while last and measure(last + "\u2026", size) > max_width:
        last = last[:-1].rstrip()
    lines[-1] = last + "\u2026"
    return size, lines


CARD_MARGIN = 80
CARD_SHADES = 16  # of each colour on the background: 64 colours in all
HEADLINE_SIZES = (76, 68, 60, 54, 48, 42)
DEK_SIZES = (34, 30, 26)
TEXT_TOP, TEXT_BOTTOM = 140, 500  # the band the headline and dek share
HEADLINE_WITH_DEK = 270
FOOTER_Y = 548


def card_layout(card: CardText, measure: Callable[[str, int, bool], float]) -> list[TextRun]:
    """Place a card's lines: the section above, the headline as large as fits, the dek
    in what room is left, the site's name at the foot. Nothing leaves the card."""
    width = CARD_SIZE[0] - 2 * CARD_MARGIN
    colours = card.palette
    runs = [TextRun(CARD_MARGIN, 72, fit_lines(card.kicker.upper(), width, 1, (28,),
                                               lambda s, n: measure(s, n, True))[1][0]
                    if card.kicker.strip() else "", 28, True, colours.accent)]
    # With a dek, the headline leaves it room for two lines at least.
    budget = (HEADLINE_WITH_DEK if card.dek.strip() else TEXT_BOTTOM - TEXT_TOP)
    size, lines = fit_lines(card.title, width,
                            lambda n: min(4, budget // round(n * 1.15)), HEADLINE_SIZES,
                            lambda s, n: measure(s, n, True))
    y = TEXT_TOP
    step = round(size * 1.15)
    for line in lines:
        runs.append(TextRun(CARD_MARGIN, y, line, size, True, colours.text))
        y += step
    y += 24
    if card.dek.strip():
        for dek_size in DEK_SIZES:
            room = (TEXT_BOTTOM - y) // round(dek_size * 1.3)
            if room >= 1:
                dek_size, dek_lines = fit_lines(card.dek, width, min(3, room), (dek_size,),
                                                lambda s, n: measure(s, n, False))
                for line in dek_lines:
                    runs.append(TextRun(CARD_MARGIN, y, line, dek_size, False, colours.muted))
                    y += round(dek_size * 1.3)
                break
    footer = fit_lines(card.footer, width, 1, (28,), lambda s, n: measure(s, n, True))[1]
    runs.append(TextRun(CARD_MARGIN, FOOTER_Y, footer[0] if footer else "", 28, True,
                        colours.muted))
    return [run for run in runs if run.text]


# --- Reading sources --------------------------------------------------------------

def read_source_image(path: Path, rel_path: str) -> SourceImage:
    """Identify an image file from its header, without decoding its pixels."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageProblem(NO_SUCH_FILE) from None
    except OSError as exc:
        raise ImageProblem(f"cannot read it ({exc.strerror})") from None
    return identify_image(data, rel_path, str(path))


def identify_image(data: bytes, rel_path: str, path: str) -> SourceImage:
    from PIL import Image, UnidentifiedImageError

    too_large = (f"it is too large to decode safely (over {MAX_PIXELS // 1_000_000} million "
                 "pixels); save a smaller copy, 2400 pixels wide is plenty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format or ""
                width, height = image.size
                orientation = image.getexif().get(0x0112, 1)
                alpha = (image.mode in ("RGBA", "LA", "PA", "RGBa")
                         or "transparency" in image.info)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageProblem(too_large) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageProblem("this file is not an image Pillow can read; save it as JPEG, PNG, WebP "
                           "or GIF") from None
    if image_format not in FORMATS:
        raise ImageProblem(f"it is a {image_format} image; save it as JPEG, PNG, WebP or GIF")
    if width * height > MAX_PIXELS:
        raise ImageProblem(too_large)
    if orientation in (5, 6, 7, 8):  # shown turned a quarter
        width, height = height, width
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    return SourceImage(rel_path, path, digest, image_format, width, height, alpha)


class SourceReader:
    """Reads each source image once a build; one unchanged since the last build (by its
    signature) is known from the state without being read again."""

    def __init__(self, site_dir: Path, state: Store | None, read: bool = True):
        self.site_dir = site_dir
        self.state = state
        known = state.blob(SOURCES_BLOB) if state is not None and read else None
        self.known: dict = known if isinstance(known, dict) else {}
        self.seen: dict[str, list] = {}
        self.read: dict[str, SourceImage | ImageProblem] = {}

    def get(self, rel_path: str) -> SourceImage:
        if rel_path not in self.read:
            try:
                self.read[rel_path] = self._read(rel_path)
            except ImageProblem as problem:
                self.read[rel_path] = problem
        found = self.read[rel_path]
        if isinstance(found, ImageProblem):
            raise found
        return found

    def _read(self, rel_path: str) -> SourceImage:
        path = self.site_dir / rel_path
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise ImageProblem(NO_SUCH_FILE) from None
        settled = max(info.st_mtime_ns, info.st_ctime_ns) < time.time_ns() - SETTLE_NS
        signature = signature_of(info) if settled else ""
        entry = self.known.get(rel_path)
        if signature and isinstance(entry, list) and len(entry) == 6 and entry[0] == signature:
            _, digest, image_format, width, height, alpha = entry
            source = SourceImage(rel_path, str(path), digest, image_format, width, height,
                                 alpha)
        else:
            source = read_source_image(path, rel_path)
        self.seen[rel_path] = [signature, source.digest, source.format, source.width,
                               source.height, source.alpha]
        return source

    def save(self) -> None:
        """Queue what was read for the state's commit."""
        if self.state is not None and self.seen != self.known:
            self.state.put_blob(SOURCES_BLOB, self.seen)


# --- Planning ---------------------------------------------------------------------

class ImagePlanner:
    """Decides every derived file of a site: its URL, size and cache name."""

    def __init__(self, site: Site, site_dir: Path, reader: SourceReader):
        self.site = site
        self.config = site.config
        self.reader = reader
        self.asset_urls = dict(site.asset_urls)
        self.by_url = {url: rel_path for rel_path, url in site.asset_urls}
        self.jobs: dict[str, dict[str, str]] = {}  # source rel_path or card key -> outputs
        self.job_inputs: dict[str, SourceImage | CardText] = {}
        self.palette = theme_palette(_theme_css(site_dir))
        self.font_digest = _fonts_digest()

    def post_images(self, post: Post) -> PostImages:
        """A post's lead image, share card and body images; raise for a bad lead image."""
        lead = None
        card = None
        card_alt = post.title
        if post.image:
            try:
                source = self.reader.get(post.image)
            except ImageProblem as problem:
                raise ContentError(f"image '{post.image}': {problem}", post.rel_path,
                                   post.image_line or None) from None
            lead = self.responsive(source)
            card, card_alt = self.cropped_card(source), post.image_alt
        elif self.config.images.default_card:
            try:
                card = self.cropped_card(self.reader.get(self.config.images.default_card))
            except ImageProblem as problem:
                raise ConfigError(f"images.default_card '{self.config.images.default_card}': "
                                  f"{problem}", CONFIG_NAME) from None
            card_alt = ""
        elif self.config.images.cards:
            card = self.generated_card(post)
        return PostImages(lead, card, card_alt, self.body_images(post))

    def body_images(self, post: Post) -> tuple[tuple[str, ResponsiveImage], ...]:
        """The local raster images of a body, by the URL the body gives them. One that is
        missing or unreadable is left as it is: the link check reports a missing one."""
        if not post.body_images:
            return ()
        resolve = link_resolver(post.rel_path, self.asset_urls)
        found = []
        for src in post.body_images:
            url = resolve(src)
            rel_path = self.by_url.get(url)
            if rel_path is None or not rel_path.lower().endswith(RASTER_SUFFIXES):
                continue
            try:
                found.append((url, self.responsive(self.reader.get(rel_path))))
            except ImageProblem:
                continue
        return tuple(found)

    def responsive(self, source: SourceImage) -> ResponsiveImage:
        widths = responsive_widths(source.width)
        fallback = fallback_format(source.format, source.alpha)
        return ResponsiveImage(
            source.rel_path, source.width, source.height,
            tuple(self.variant(source, width, "WEBP") for width in widths),
            tuple(self.variant(source, width, fallback) for width in widths))

    def variant(self, source: SourceImage, width: int, image_format: str) -> ImageVariant:
        transform = f"w{width}.{image_format}"
        name = self._output(source.rel_path, source, transform, image_format)
        return ImageVariant(f"{IMAGES_URL}{source.digest[:16]}-{width}.{EXTENSION[image_format]}",
                            width, scaled_height(source.width, source.height, width),
                            MIME[image_format], name)

    def cropped_card(self, source: SourceImage) -> ImageVariant:
        image_format = "PNG" if source.alpha else "JPEG"
        name = self._output(source.rel_path, source, f"card.{image_format}", image_format)
        return ImageVariant(f"{IMAGES_URL}{source.digest[:16]}-card.{EXTENSION[image_format]}",
                            *CARD_SIZE, MIME[image_format], name)

    def generated_card(self, post: Post) -> ImageVariant:
        card = CardText(post.section, post.title, post.dek, self.config.title, self.palette)
        key = derived_key("card", repr(card), self.font_digest, repr(CARD_SIZE))
        name = f"{key}.png"
        self.jobs.setdefault(key, {})[name] = "card"
        self.job_inputs[key] = card
        return ImageVariant(f"{IMAGES_URL}card-{key[:16]}.png", *CARD_SIZE, MIME["PNG"], name)

    def _output(self, rel_path: str, source: SourceImage, transform: str,
                image_format: str) -> str:
        name = f"{derived_key(source.digest, transform)}.{EXTENSION[image_format]}"
        self.jobs.setdefault(rel_path, {})[name] = transform
        self.job_inputs[rel_path] = source
        return name

    def derivations(self) -> list[Derivation]:
        made = []
        for key, outputs in self.jobs.items():
            found = self.job_inputs[key]
            items = tuple(sorted(outputs.items()))
            made.append(Derivation(items, card=found) if isinstance(found, CardText)
                        else Derivation(items, source=found))
        return made


def plan_images(site: Site, site_dir: Path, state: Store | None = None,
                read: bool = True) -> tuple[dict[str, PostImages], list[Derivation],
                                            SourceReader]:
    """Every published post's pictures, and what must be made for them; every bad lead
    image is reported at once."""
    reader = SourceReader(site_dir, state, read)
    planner = ImagePlanner(site, site_dir, reader)
    images: dict[str, PostImages] = {}
    errors: list[BuildError] = []
    for post in site.posts:
        try:
            images[post.rel_path] = planner.post_images(post)
        except BuildError as error:
            errors.append(error)
    raise_if_any(errors)
    return images, planner.derivations(), reader


def add_images(site: Site, site_dir: Path, state: Store | None = None,
               read: bool = True) -> tuple[Site, Path | None]:
    """Plan the site's pictures, make those the cache lacks, and give them to the site.

    What is made goes to a folder of its own, returned, until keep_made_images moves it
    into the cache once the build has succeeded: a failed build changes nothing.
    Unless read, every source image is read again rather than known from the state.
    """
    images, derivations, reader = plan_images(site, site_dir, state, read)
    cache_dir = site_dir / CACHE_DIR
    known = state.blob(FILES_BLOB) if state is not None and read else None
    known = known if isinstance(known, dict) else {}

    records: dict[str, list[int]] = {}  # cache name -> [size, mtime_ns]

    def is_cached(name: str) -> bool:
        """Trust a cached file only as it was made: one damaged since is made again."""
        try:
            info = os.stat(cache_dir / name)
        except OSError:
            return False
        found = [info.st_size, info.st_mtime_ns]
        if known.get(name) != found:
            return False
        records[name] = found
        return True

    made_dir = derive_missing(derivations, is_cached, site_dir / MADE_DIR_PARENT)
    reader.save()
    made: set[str] = set()
    for derivation in derivations:
        for name, _ in derivation.outputs:
            if name not in records:  # not cached, so this build made it
                assert made_dir is not None
                # Moving it into the cache keeps its size and mtime: record them now.
                info = os.stat(made_dir / name)
                records[name] = [info.st_size, info.st_mtime_ns]
                made.add(name)
    if state is not None and records != known:
        state.put_blob(FILES_BLOB, records)

    def located(variant: ImageVariant, sized: bool = False) -> ImageVariant:
        """Note where the file is, when this build made it, and its size if asked."""
        name = variant.cache_name
        return replace(variant, made_at=str(made_dir / name) if name in made else "",
                       size=records[name][0] if sized else variant.size)

    return replace(site, images={path: _located(found, located)
                                 for path, found in images.items()}), made_dir


def _located(images: PostImages, located: Callable[..., ImageVariant]) -> PostImages:
    """Every variant of a post's pictures located, the lead image's largest sized too,
    which feed enclosures give."""
    lead = images.lead
    if lead is not None:
        lead = replace(lead, webp=tuple(map(located, lead.webp)),
                       fallback=(*map(located, lead.fallback[:-1]),
                                 located(lead.fallback[-1], sized=True)))
    body = tuple((url, replace(image, webp=tuple(map(located, image.webp)),
                               fallback=tuple(map(located, image.fallback))))
                 for url, image in images.body)
    card = located(images.card) if images.card else None
    return replace(images, lead=lead, body=body, card=card)


def keep_made_images(made_dir: Path | None, site_dir: Path) -> None:
    """Move what this build made into the cache, once the build has succeeded."""
    if made_dir is None:
        return
    cache_dir = site_dir / CACHE_DIR
    cache_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(made_dir.iterdir()):
        temporary = cache_dir / f".{path.name}.{os.getpid()}.tmp"
        shutil.move(path, temporary)  # keeps the mtime, even from another file system
        os.replace(temporary, cache_dir / path.name)


def discard_made_images(made_dir: Path, site_dir: Path) -> None:
    """Remove what a build made and did not keep, and the folders it made to hold it:
    a first build that fails leaves no trace."""
    shutil.rmtree(made_dir, ignore_errors=True)
    for folder in (site_dir / MADE_DIR_PARENT, site_dir / ".cache"):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            break


def image_outputs(site: Site, site_dir: Path) -> tuple[OutputFile, ...]:
    """Every derived file the site's pages use, once each, copied from the cache."""
    cache_dir = site_dir / CACHE_DIR
    files: dict[str, OutputFile] = {}
    for rel_path, images in sorted(site.images.items()):
        for variant in images.variants():
            path = variant.url.lstrip("/")
            if path not in files:
                # The cache name fixes the bytes: equal names, equal files.
                files[path] = OutputFile(path, b"", f"image for {rel_path}",
                                         copy_from=variant.made_at
                                         or str(cache_dir / variant.cache_name),
                                         digest=f"image {variant.cache_name}")
    return tuple(files.values())


def used_cache_names(site: Site) -> set[str]:
    return {v.cache_name for images in site.images.values() for v in images.variants()}


def prune_image_cache(site_dir: Path, used: Iterable[str]) -> int:
    """Remove the cached files no post uses any more (and leftovers of killed builds)."""
    cache_dir = site_dir / CACHE_DIR
    keep = set(used)
    removed = 0
    try:
        entries = list(os.scandir(cache_dir))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if entry.name not in keep and entry.is_file(follow_symlinks=False):
            os.unlink(entry.path)
            removed += 1
    return removed


# --- Making files -----------------------------------------------------------------

def derive_missing(derivations: Sequence[Derivation], is_cached: Callable[[str], bool],
                   parent: Path) -> Path | None:
    """Make every derived file the cache lacks, into a new folder under parent, returned
    (None when nothing was missing); in worker processes when there are several."""
    # The build lock makes this build the only one: what is there, a killed build left.
    for leftover in parent.glob(MADE_DIR_PREFIX + "*"):
        shutil.rmtree(leftover, ignore_errors=True)
    missing = [Derivation(todo, d.source, d.card) for d in derivations
               if (todo := tuple((name, transform) for name, transform in d.outputs
                                 if not is_cached(name)))]
    if not missing:
        return None
    parent.mkdir(parents=True, exist_ok=True)
    made_dir = Path(tempfile.mkdtemp(prefix=MADE_DIR_PREFIX, dir=parent))
    try:
        workers = min(worker_count(), len(missing))
        # Weighed in cards: resizing a photo to every width costs about twenty.
        work = sum(1 if derivation.card is not None else 20 for derivation in missing)
        if work < PARALLEL_WORK or workers < 2:
            for derivation in missing:
                derive(derivation, made_dir)
        else:
            with worker_pool(workers) as pool:
                list(pool.map(derive, missing, repeat(made_dir)))
    except BaseException:
        shutil.rmtree(made_dir, ignore_errors=True)
        raise
    return made_dir


def derive(derivation: Derivation, target_dir: Path) -> None:
    """Make one source's (or card's) files."""
    if derivation.card is not None:
        from PIL import Image

        for name, _ in derivation.outputs:
            # A card holds its palette's colours and the anti-aliased edges between them
            # and the background: mapped to exactly those, it stays sharp at a third of
            # the bytes, and mapping costs a tenth of finding a palette.
            card = draw_card(derivation.card).quantize(
                palette=_card_palette(derivation.card.palette), dither=Image.Dither.NONE)
            _save(card, "PNG", target_dir / name)
        return
    assert derivation.source is not None
    for name, image_format, image in _transformed(derivation.source,
                                                  list(derivation.outputs)):
        _save(image, image_format, target_dir / name)


def _transformed(source: SourceImage, todo: list[tuple[str, str]]):
    """Decode a source once and yield (name, format, image) for each transform."""
    from PIL import Image, ImageOps

    with Image.open(source.path) as opened:
        if source.format == "JPEG":
            # Decode at the smallest scale that still covers every size that can be made
            # of this source: far quicker. The scale must not depend on which of them this
            # build makes, or a file made again would differ from the first.
            scale = min(1.0, max(responsive_widths(source.width)[-1] / source.width,
                                 CARD_SIZE[0] / source.width, CARD_SIZE[1] / source.height))
            opened.draft("RGB", (int(opened.width * scale) + 1, int(opened.height * scale) + 1))
        opened.seek(0)  # a GIF's first frame
        icc = opened.info.get("icc_profile")
        image = ImageOps.exif_transpose(opened)
        image = image.convert("RGBA" if source.alpha else "RGB")
    for name, transform in todo:
        what, image_format = transform.split(".", 1)
        if what == "card":
            box = centre_crop_box(image.width, image.height, CARD_SIZE)
            made = image.resize(CARD_SIZE, Image.LANCZOS, box=box, reducing_gap=3.0)
        else:
            width = int(what[1:])
            height = scaled_height(source.width, source.height, width)
            made = (image if (width, height) == image.size
                    else image.resize((width, height), Image.LANCZOS, reducing_gap=3.0))
        if image_format == "JPEG" and made.mode != "RGB":
            made = made.convert("RGB")
        made.info = {"icc_profile": icc} if icc else {}
        yield name, image_format, made


def _save(image: PILImage.Image, image_format: str, target: Path) -> None:
    """Encode with fixed settings and no metadata (no EXIF, no time), then put the file
    in place whole."""
    options: dict = {"icc_profile": image.info.get("icc_profile") or None, "exif": b""}
    if image_format == "WEBP":
        options.update(quality=80, method=4)
    elif image_format == "JPEG":
        options.update(quality=82, optimize=True, progressive=True)
    else:
        options.update(optimize=False, compress_level=6)
    if options["icc_profile"] is None:
        del options["icc_profile"]
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(buffer.getvalue())
    os.replace(temporary, target)


@lru_cache(maxsize=8)
def _card_palette(colours: Palette) -> PILImage.Image:
    """The background, and CARD_SHADES steps from it to each colour drawn on it."""
    from PIL import Image, ImageColor

    background = ImageColor.getrgb(colours.background)[:3]
    values: list[int] = []
    for name in ("text", "muted", "accent", "rule"):
        colour = ImageColor.getrgb(getattr(colours, name))[:3]
        for step in range(CARD_SHADES):
            share = step / (CARD_SHADES - 1)
            values += [round(b + (c - b) * share) for b, c in zip(background, colour)]
    palette = Image.new("P", (1, 1))
    palette.putpalette(values + [0] * (768 - len(values)))
    return palette


@lru_cache(maxsize=32)
def _font(size: int, bold: bool):
    from PIL import ImageFont

    return ImageFont.truetype(str(FONTS_DIR / (FONT_BOLD if bold else FONT_REGULAR)), size)


def measure_text(text: str, size: int, bold: bool) -> float:
    return _font(size, bold).getlength(text)


def draw_card(card: CardText) -> PILImage.Image:
    """Draw a share card: the section, the headline and dek, the site's name."""
    from PIL import Image, ImageDraw

    colours = card.palette
    image = Image.new("RGB", CARD_SIZE, colours.background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, CARD_SIZE[0], 12), fill=colours.accent)
    draw.line((CARD_MARGIN, FOOTER_Y - 24, CARD_SIZE[0] - CARD_MARGIN, FOOTER_Y - 24),
              fill=colours.rule, width=2)
    for run in card_layout(card, measure_text):
        draw.text((run.x, run.y), run.text, font=_font(run.size, run.bold), fill=run.colour)
    return image


def _theme_css(site_dir: Path) -> str:
    for path in (site_dir / "theme" / "style.css", DEFAULTS_DIR / "theme" / "style.css"):
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return ""


@lru_cache(maxsize=1)
def _fonts_digest() -> str:
    digest = hashlib.blake2b(digest_size=16)
    for name in (FONT_REGULAR, FONT_BOLD):
        digest.update((FONTS_DIR / name).read_bytes())
    return digest.hexdigest()


# --- Markup -----------------------------------------------------------------------

def picture_html(image: ResponsiveImage, alt: str, lead: bool = False,
                 attributes: str = "") -> str:
    """A <picture>: WebP at every width, the fallback format for the rest."""
    webp = ", ".join(f"{v.url} {v.width}w" for v in image.webp)
    fallback = ", ".join(f"{v.url} {v.width}w" for v in image.fallback)
    src = next((v for v in image.fallback if v.width >= WIDTHS[1]), image.fallback[-1])
    loading = ('loading="eager" fetchpriority="high" decoding="async"' if lead
               else 'loading="lazy" decoding="async"')
    return (f'<picture><source type="image/webp" srcset="{webp}" sizes="{COLUMN_SIZES}">'
            f'<img src="{src.url}" srcset="{fallback}" sizes="{COLUMN_SIZES}" '
            f'width="{src.width}" height="{src.height}" alt="{html.escape(alt, quote=True)}"'
            f'{attributes} {loading}></picture>')


IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
ATTRIBUTE = re.compile(r"""([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
REPLACED = frozenset({"src", "srcset", "sizes", "width", "height", "loading", "decoding",
                      "alt", "fetchpriority"})


def responsive_body(body_html: str, images: dict[str, ResponsiveImage]) -> str:
    """Put each <img> of a local image in a <picture> of its derived files."""
    if not images:
        return body_html

    def replace_tag(match: re.Match) -> str:
        attributes = _attributes(match[0][4:].rstrip("/>"))
        image = images.get(attributes.get("src", ""))
        if image is None:
            return match[0]
        kept = "".join(f' {name}="{html.escape(value, quote=True)}"'
                       for name, value in attributes.items() if name not in REPLACED)
        return picture_html(image, attributes.get("alt", ""), attributes=kept)

    return IMG_TAG.sub(replace_tag, body_html)


def _attributes(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in ATTRIBUTE.finditer(text):
        value = next((v for v in match.groups()[1:] if v is not None), "")
        found.setdefault(match[1].lower(), html.unescape(value))
    return found
