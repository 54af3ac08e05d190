"""Related posts, and the latest posts of a post's section.

A post's words are counted once, when it is parsed (post_terms), and kept with the
parsed post. The related lists are computed once per build over the whole site and
kept in the state by a digest of every post's counted words, tags, date and URL, so
a build in which none of these changed reuses them.

A candidate's score is a hybrid, mildly lowered by the time between the two posts:

    (cosine of the TF-IDF vectors of their words
     + for each shared tag, TAG_WEIGHT * the tag's IDF / the IDF of a tag on two posts)
    * decay(days apart)

Words alone miss the editor's grouping; tags alone make every post of a long-running
tag look alike. The work stays small at 10,000 posts: a post's vector keeps its
VECTOR_TERMS strongest words that another post shares, each word links only its
POSTING_LIMIT strongest posts, and a tag offers as candidates only its TAG_WINDOW
posts nearest in time on each side.
"""

from __future__ import annotations

import hashlib
import heapq
import html
import math
import re
from bisect import insort
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import TypeGuard

from . import __version__
from .model import Post, Section, Site
from .pool import can_fork_workers, split_among_workers
from .store import Store

RELATED_FORMAT = 1  # bump whenever the same input gives other lists
BLOB_NAME = "related"

# Weights of a word by where it stands: quotes are the source's words, not the writer's.
TITLE_WEIGHT = 4
COMMENTARY_WEIGHT = 2
QUOTE_WEIGHT = 1
TERMS_KEPT = 40  # per post, at parse time, before any word's rarity is known

VECTOR_TERMS = 16
POSTING_LIMIT = 32
TAG_WINDOW = 12
TAG_WEIGHT = 0.5
DECAY_DAYS = 365  # the part of a score that decays halves every this many days apart
DECAY_FLOOR = 0.6  # the part that never decays
MIN_SCORE = 0.1  # at 10,000 posts, what one shared tag on a fifth of them gives
TIE = 1e-9  # scores closer than this are equal
PARALLEL_ENTRIES = 3000  # below this, starting workers costs more than they save
SECONDS_PER_DAY = 86400

QUOTED = re.compile(r"<(/?)(?:blockquote|figcaption)\b[^>]*>", re.IGNORECASE)
TAG = re.compile(r"<[^>]*>")
# Words of three letters or more (\w{3,}, which the regex engine finds more slowly);
# _fold leaves out those with a digit or "_".
WORD = re.compile(r"\w\w\w+")
STOPWORDS = frozenset("""
about above after again against all also although among and another any are aren around
because been before being below between both but can cannot could couldn did didn does
doesn doing don down during each either else even ever every few for from further had
hadn has hasn have haven having her here hers herself him himself his how however into
isn its itself just least less let like made make many may might more most much must
mustn neither nor not now off once one only onto other others our ours ourselves out over
own per perhaps quite rather said same say says shan she should shouldn since some still
such than that the their theirs them themselves then there these they this those though
through thus too under until upon very was wasn way were weren what whatever when where
whether which while who whom whose why will with within without won would wouldn yet you
your yours yourself yourselves
""".split())


def post_terms(title: str, dek: str, body_html: str) -> str:
    """Count the words a post is about, as "word:weight word:weight …" sorted by word.

    Quotes and their attributions count half as much as the writer's own words, the
    title twice as much; common English words are left out.
    """
    own: list[str] = [dek]
    quoted: list[str] = []
    depth, position = 0, 0
    for tag in QUOTED.finditer(body_html):
        (quoted if depth else own).append(body_html[position:tag.start()])
        depth = max(0, depth + (-1 if tag[1] else 1))
        position = tag.end()
    (quoted if depth else own).append(body_html[position:])
    counts: Counter[str] = Counter()
    for text, weight in ((title, TITLE_WEIGHT), (" ".join(own), COMMENTARY_WEIGHT),
                         (" ".join(quoted), QUOTE_WEIGHT)):
        words = WORD.findall(_plain(text))
        for _ in range(weight):
            counts.update(words)
    # Rarity is not known yet; among equal weights the earlier word is kept.
    kept: dict[str, int] = {}
    for word, weight in counts.most_common():
        folded = _FOLDED.get(word)
        if folded is None:
            folded = _fold(word)
        if folded in kept:
            kept[folded] += weight
        elif folded:
            if len(kept) == TERMS_KEPT:
                break
            kept[folded] = weight
    return " ".join(sorted([f"{word}:{weight}" for word, weight in kept.items()]))


_FOLDED: dict[str, str] = {}  # word -> what it counts as, "" for one left out


def _fold(word: str) -> str:
    """Fold an English plural onto its singular, so that "tariffs" meets "tariff"."""
    folded = word
    if word in STOPWORDS or not word.isalpha():
        folded = ""
    elif len(word) > 4 and word.endswith("ies"):
        folded = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        folded = word[:-1]
    if len(_FOLDED) > 100_000:
        _FOLDED.clear()
    _FOLDED[word] = folded
    return folded


def _plain(fragment: str) -> str:
    return html.unescape(TAG.sub(" ", fragment)).casefold()


@dataclass(frozen=True, slots=True)
class Entry:
    """What the related lists are computed from, for one post."""

    terms: str  # as post_terms gives them
    tags: tuple[str, ...]  # slugs
    timestamp: float
    url: str


def find_related(entries: Sequence[Entry], count: int) -> list[tuple[int, ...]]:
    """For each entry, the indexes of up to count others most related to it, best first;
    ties go to the newer post, then to the smaller URL."""
    if count < 1 or len(entries) < 2:
        return [() for _ in entries]
    scores = _Scores(entries)

    def related_to(start: int, stop: int) -> list[tuple[int, ...]]:
        return [scores.most_related(index, count) for index in range(start, stop)]

    if len(entries) >= PARALLEL_ENTRIES and can_fork_workers(len(entries)):
        return split_among_workers(related_to, len(entries))
    return related_to(0, len(entries))


class _Scores:
    """What every entry's scores are computed from."""

    def __init__(self, entries: Sequence[Entry]):
        self.tags = [entry.tags for entry in entries]
        self.reach = _word_reach(entries)
        self.tag_bonus, self.timeline, self.places = _tag_index(entries)
        self.halves = [entry.timestamp / (DECAY_DAYS * SECONDS_PER_DAY) for entry in entries]
        self.order = [(-entry.timestamp, entry.url) for entry in entries]  # the tie rule

    def most_related(self, index: int, count: int) -> tuple[int, ...]:
        """The indexes of up to count entries most related to the one at index."""
        scores: dict[int, float] = {}
        add = scores.get
        for weight, posting in self.reach[index]:
            for other_weight, other in posting:
                scores[other] = add(other, 0.0) + weight * other_weight
        for tag in self.tags[index]:
            bonus, place, posts = self.tag_bonus[tag], self.places[index][tag], self.timeline[tag]
            for other in posts[max(0, place - TAG_WINDOW):place + TAG_WINDOW + 1]:
                scores[other] = add(other, 0.0) + bonus
        scores.pop(index, None)
        best: list[tuple[float, float, str, int]] = []  # (-score, -timestamp, url, index)
        floor, half, halves = MIN_SCORE, self.halves[index], self.halves
        # Decay only lowers a score: stop at the first that cannot reach the last kept.
        for other, score in sorted(scores.items(), key=itemgetter(1), reverse=True):
            if score < floor - TIE:
                break
            decay = DECAY_FLOOR + (1 - DECAY_FLOOR) * 0.5 ** abs(half - halves[other])
            # Rounded, so that scores equal but for float noise tie and the tie rule decides.
            score = round(score * decay, 9)
            if score >= floor:
                insort(best, (-score, *self.order[other], other))
                if len(best) >= count:
                    del best[count:]
                    floor = -best[-1][0]
        return tuple(item[3] for item in best)


def _word_reach(entries: Sequence[Entry]) -> list[list[tuple[float, list]]]:
    """For each entry, (its weight, the word's posting list) for each word among whose
    POSTING_LIMIT strongest posts it is: a common word links only the posts it matters
    most to. Weights are TF-IDF, over the length of the entry's whole vector."""
    words, counts = [], []
    for entry in entries:
        items = entry.terms.replace(":", " ").split()
        words.append(items[::2])
        counts.append(items[1::2])
    total = len(entries)
    frequency = Counter(chain.from_iterable(words))
    idf = {word: math.log(total / found) for word, found in frequency.items()}
    tf = {count: 1 + math.log(int(count)) if count.isdigit() and int(count) > 0 else 0.0
          for count in set(chain.from_iterable(counts))}
    postings: dict[str, list[tuple[float, int]]] = defaultdict(list)  # (-weight, index)
    for index, (terms, weights) in enumerate(zip(words, counts)):
        weighted = [(tf[weight] * idf[term], term) for term, weight in zip(terms, weights)]
        norm = -math.sqrt(sum(weight * weight for weight, _ in weighted)) or -1.0
        # A word no other post has cannot match; it counts only in the vector's length.
        shared = sorted([item for item in weighted if item[0] > 0 and frequency[item[1]] > 1],
                        reverse=True)
        for weight, term in shared[:VECTOR_TERMS]:
            postings[term].append((weight / norm, index))
    reach: list[list[tuple[float, list]]] = [[] for _ in entries]
    for term in sorted(postings):
        strongest = [(-weight, index) for weight, index in sorted(postings[term])[:POSTING_LIMIT]]
        for weight, index in strongest:
            reach[index].append((weight, strongest))
    return reach


def _tag_index(entries: Sequence[Entry]
               ) -> tuple[dict[str, float], dict[str, list[int]], list[dict[str, int]]]:
    """Each tag's bonus: TAG_WEIGHT times its IDF over about the largest a shared tag
    can have (a tag on two posts), so that a rare tag is worth nearly TAG_WEIGHT and
    one on most posts nearly nothing. Also each tag's entries newest first, and where
    each entry stands in each of its tags' lists."""
    timeline: dict[str, list[int]] = defaultdict(list)
    for index in sorted(range(len(entries)),
                        key=lambda i: (-entries[i].timestamp, entries[i].url)):
        for tag in entries[index].tags:
            timeline[tag].append(index)
    total = len(entries)
    bonus = {tag: TAG_WEIGHT * math.log(total / len(posts)) / math.log(total / 2 + 1)
             for tag, posts in timeline.items()}
    places: list[dict[str, int]] = [{} for _ in entries]
    for tag, posts in timeline.items():
        for place, index in enumerate(posts):
            places[index][tag] = place
    return bonus, timeline, places


def site_entries(site: Site) -> list[Entry]:
    """The related lists' input for each published post, in the site's order."""
    tags = _tag_slugs(site)
    return [Entry(post.terms, tags.get(id(post), ()), post.date.timestamp(), post.url)
            for post in site.posts]


def _tag_slugs(site: Site) -> dict[int, tuple[str, ...]]:
    """The slugs of each post's tags, by the post's id."""
    tags: dict[int, list[str]] = defaultdict(list)
    for tag in site.tags:
        for post in tag.posts:
            tags[id(post)].append(tag.slug)
    return {key: tuple(slugs) for key, slugs in tags.items()}


class RelatedCache:
    """The related lists of the last build, kept in the state by a digest of their
    inputs. Nothing is stored until save(), once the build has succeeded."""

    def __init__(self, state: Store | None, read: bool = True):
        self.state = state
        self.read = read
        self.computed = False  # whether this build had to compute the lists
        self._value: list | None = None  # as stored: [key, count, flat indexes, -1 padded]

    def related_posts(self, site: Site) -> dict[str, tuple[Post, ...]]:
        """Each published post's related posts, by its rel_path."""
        count = site.config.related.count
        if count < 1:
            return {}
        posts = site.posts
        key = site_digest(site, count)
        stored = self.state.blob(BLOB_NAME) if self.state is not None and self.read else None
        if _is_stored(stored, key, count, len(posts)):
            self._value = stored
            flat = stored[2]
        else:
            self.computed = True
            flat = [i for found in find_related(site_entries(site), count)
                    for i in (*found, *[-1] * (count - len(found)))]
            self._value = [key, count, flat]
        return {post.rel_path: tuple([posts[i] for i in flat[start:start + count] if i >= 0])
                for post, start in zip(posts, range(0, len(flat), count))}

    def save(self) -> None:
        """Queue newly computed lists for the state's commit."""
        if self.state is not None and self._value is not None and (
                self.computed or self.state.fresh):
            self.state.put_blob(BLOB_NAME, self._value)


def _is_stored(value: object, key: str, count: int, total: int) -> TypeGuard[list]:
    return (isinstance(value, list) and len(value) == 3 and value[0] == key
            and value[1] == count and isinstance(value[2], list)
            and len(value[2]) == total * count
            and (not value[2] or (set(map(type, value[2])) == {int}
                                  and min(value[2]) >= -1 and max(value[2]) < total)))


def site_digest(site: Site, count: int) -> str:
    """Identify everything the related lists are computed from: each published post's
    counted words, tags, date and URL, in order, and the engine that computes them."""
    tags = _tag_slugs(site)
    digest = hashlib.blake2b(f"{RELATED_FORMAT}|{__version__}|{count}".encode(),
                             digest_size=16)
    for post in site.posts:
        digest.update(f"\0{post.terms}\1{' '.join(tags.get(id(post), ()))}\1"
                      f"{post.date.timestamp()!r}\1{post.url}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def latest_in_section(section: Section, count: int) -> tuple[Post, ...]:
    """The section's count + 1 latest posts, newest first, then by slug: enough to
    show count of them on any post's page but one of their own."""
    if count < 1:
        return ()
    return tuple(heapq.nsmallest(count + 1, section.posts,
                                 key=lambda p: (-p.date.timestamp(), p.slug, p.url)))


def section_posts(latest: tuple[Post, ...], post: Post, count: int,
                  related: tuple[Post, ...] = ()) -> tuple[Post, ...]:
    """What "More in this section" shows on a post's page: the latest others that the
    related list above it does not already show."""
    shown = {p.rel_path for p in related} | {post.rel_path}
    return tuple(p for p in latest if p.rel_path not in shown)[:count]
