"""Full-text search over the admin's records: enquiries, bookings, posts and comments.

The index is the database's own, kept in step with the rows by the database itself, so every
writer (the web, the CLI, a privacy erasure, SQL typed into a shell) keeps it right:

- SQLite: one FTS5 table per source with external content (the text stays in the row; FTS5 holds
  only the index), filled and emptied by triggers on insert, update and delete.
- PostgreSQL: a stored generated `search_vector tsvector` column per source with a GIN index,
  queried with `websearch_to_tsquery`, which accepts any text a person types.

Both use no stemming and no stop words ('simple'; FTS5's unicode61): people search for names,
addresses and companies in any language more than for English word forms.

The schema is created by migration 0012_search_and_digest and, for the tests' create_all(), by the listeners at the
end of this module, from the same statements (SCHEMA). A change to it is a new migration.
"""
# ruff: noqa: S608  (the SQL is built from the SOURCES constants only; what a person typed is always bound)
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import event, text

from extensions import db


@dataclass(frozen=True)
class Source:
    kind: str  # enquiry, booking, post, comment
    table: str
    # (column, weight) in the order FTS5 indexes them; A counts most, as in PostgreSQL's setweight.
    columns: tuple[tuple[str, str], ...]
    email_column: str | None = None

    @property
    def fts(self) -> str:
        return f"search_{self.table}"


SOURCES = (
    Source("enquiry", "enquiries", (("name", "A"), ("email", "A"), ("company", "B"), ("message", "C")), "email"),
    Source("booking", "bookings", (("name", "A"), ("email", "A"), ("company", "B")), "email"),
    Source("post", "posts", (("title", "A"), ("summary", "B"), ("body", "C"))),
    Source("comment", "comments", (("author_name", "A"), ("author_email", "A"), ("body", "C")), "author_email"),
)
KINDS = tuple(s.kind for s in SOURCES)
# bm25 weight per column for FTS5, matching PostgreSQL's default ts_rank weights {0.1, 0.2, 0.4, 1.0}.
BM25_WEIGHTS = {"A": 10.0, "B": 4.0, "C": 1.0, "D": 0.1}
MAX_QUERY_LENGTH = 200


# --- the schema ------------------------------------------------------------------------------

def _sqlite_schema(s: Source) -> list[str]:
    cols = [c for c, _ in s.columns]
    names = ", ".join(cols)
    new = ", ".join(f"new.{c}" for c in cols)
    old = ", ".join(f"old.{c}" for c in cols)
    delete = f"INSERT INTO {s.fts}({s.fts}, rowid, {names}) VALUES ('delete', old.id, {old});"
    insert = f"INSERT INTO {s.fts}(rowid, {names}) VALUES (new.id, {new});"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {s.fts} USING fts5({names}, content='{s.table}', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS {s.fts}_insert AFTER INSERT ON {s.table} BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {s.fts}_delete AFTER DELETE ON {s.table} BEGIN {delete} END",
        # The old text leaves the index with the update: an erased enquiry is not found by its old words.
        f"CREATE TRIGGER IF NOT EXISTS {s.fts}_update AFTER UPDATE OF {names} ON {s.table} "
        f"BEGIN {delete} {insert} END",
        f"INSERT INTO {s.fts}({s.fts}) VALUES ('rebuild')",  # index the rows already there
    ]


def _pg_vector(s: Source) -> str:
    parts = [f"setweight(to_tsvector('simple'::regconfig, coalesce({c}, '')), '{w}')" for c, w in s.columns]
    if s.email_column:
        # The parser keeps "anna@example.com" as one word; its parts and domain are found too.
        e = f"coalesce({s.email_column}, '')"
        parts.append(f"setweight(to_tsvector('simple'::regconfig, translate({e}, '@.', '  ') || ' ' || "
                     f"split_part({e}, '@', 2)), 'A')")
    return " || ".join(parts)


def _pg_schema(s: Source) -> list[str]:
    return [
        f"ALTER TABLE {s.table} ADD COLUMN IF NOT EXISTS search_vector tsvector "
        f"GENERATED ALWAYS AS ({_pg_vector(s)}) STORED",
        f"CREATE INDEX IF NOT EXISTS ix_{s.table}_search_vector ON {s.table} USING gin (search_vector)",
    ]


def schema(dialect: str) -> list[str]:
    """The statements that create the search index on `dialect` (idempotent)."""
    if dialect == "sqlite":
        return [sql for s in SOURCES for sql in _sqlite_schema(s)]
    if dialect == "postgresql":
        return [sql for s in SOURCES for sql in _pg_schema(s)]
    return []


def drop_schema(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [sql for s in SOURCES for sql in (
            f"DROP TRIGGER IF EXISTS {s.fts}_insert", f"DROP TRIGGER IF EXISTS {s.fts}_delete",
            f"DROP TRIGGER IF EXISTS {s.fts}_update", f"DROP TABLE IF EXISTS {s.fts}")]
    if dialect == "postgresql":
        return [sql for s in SOURCES for sql in (
            f"DROP INDEX IF EXISTS ix_{s.table}_search_vector",
            f"ALTER TABLE {s.table} DROP COLUMN IF EXISTS search_vector")]
    return []


def is_search_object(name: str | None, type_: str) -> bool:
    """A database object of the search index, which the models do not declare (for Alembic's comparisons)."""
    if not name:
        return False
    if type_ == "table":
        return any(name == s.fts or name.startswith(f"{s.fts}_") for s in SOURCES)
    if type_ == "column":
        return name == "search_vector"
    if type_ == "index":
        return any(name == f"ix_{s.table}_search_vector" for s in SOURCES)
    return False


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object: leave the search index out of autogenerate and schema comparisons."""
    return not (reflected and compare_to is None and is_search_object(name, type_))


@event.listens_for(db.metadata, "after_create")
def _create_index(_metadata, connection, **_kw) -> None:
    for statement in schema(connection.dialect.name):
        connection.exec_driver_sql(statement)


@event.listens_for(db.metadata, "before_drop")
def _drop_index(_metadata, connection, **_kw) -> None:
    for statement in drop_schema(connection.dialect.name):
        connection.exec_driver_sql(statement)


# --- what a person typed ----------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    text: str
    negated: bool = False
    phrase: bool = False


# A quoted phrase (the closing quote may be missing), the word "or", or a word, possibly negated.
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def clean(query: str | None) -> str:
    """The query as searched: control characters (NUL among them) are spaces, at most MAX_QUERY_LENGTH long."""
    chars = (" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in (query or ""))
    return " ".join("".join(chars).split())[:MAX_QUERY_LENGTH]


def parse(query: str) -> list[list[Term]]:
    """Web-search syntax as websearch_to_tsquery reads it: words, "phrases", -excluded, `or` between groups."""
    groups: list[list[Term]] = [[]]
    for match in _TOKEN.finditer(query):
        negated, phrase, word = match.group(1), match.group(2), match.group(3)
        if word is not None and word.lower() == "or":
            if groups[-1]:
                groups.append([])
            continue
        if word is not None:
            negated, word = ("-", word[1:]) if word.startswith("-") and len(word) > 1 else ("", word)
        term = Term(phrase if phrase is not None else word, negated=bool(negated), phrase=phrase is not None)
        if re.search(r"\w", term.text):  # nothing to find in punctuation alone
            groups[-1].append(term)
    return [g for g in groups if any(not t.negated for t in g)]


def words(query: str) -> list[str]:
    """The words to mark in an excerpt: what the query looks for, not what it excludes."""
    return [w for group in parse(clean(query)) for t in group if not t.negated for w in re.findall(r"\w+", t.text)]


def fts5_query(query: str) -> str:
    """The FTS5 MATCH expression for a query; every term is an FTS5 string, so no input is FTS5 syntax."""
    def string(term: Term) -> str:
        return '"' + term.text.replace('"', '""') + '"'

    expressions = []
    for group in parse(query):
        positive = " AND ".join(string(t) for t in group if not t.negated)
        negative = "".join(f" NOT {string(t)}" for t in group if t.negated)
        expressions.append(f"({positive}{negative})")
    return " OR ".join(expressions)


# --- searching --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hit:
    kind: str
    id: int
    rank: float


# More matches than this and ranking them all costs more than the answer is worth (tens of thousands of
# enquiries that say "infrastructure"): the page shows the newest first and says "more than 1,000".
RANK_LIMIT = 1000


def _sqlite_match(s: Source) -> str:
    return f"SELECT rowid FROM {s.fts} WHERE {s.fts} MATCH :q"


def _sqlite_ranked(s: Source) -> str:
    weights = ", ".join(str(BM25_WEIGHTS[w]) for _, w in s.columns)
    # bm25 is lower for better matches; negated, it sorts like ts_rank.
    return (f"SELECT '{s.kind}' AS kind, rowid AS id, -bm25({s.fts}, {weights}) AS rank "
            f"FROM {s.fts} WHERE {s.fts} MATCH :q")


def _sqlite_newest(s: Source) -> str:
    # FTS5 walks its doclist by rowid, so the newest few come without reading every match.
    return (f"SELECT '{s.kind}' AS kind, id, created_at AS at FROM {s.table} WHERE id IN "
            f"(SELECT rowid FROM {s.fts} WHERE {s.fts} MATCH :q ORDER BY rowid DESC LIMIT :n)")


_PG_QUERY = "websearch_to_tsquery('simple', :q)"


def _pg_match(s: Source) -> str:
    return f"SELECT id FROM {s.table} WHERE search_vector @@ {_PG_QUERY}"


def _pg_ranked(s: Source) -> str:
    return (f"SELECT '{s.kind}' AS kind, id, ts_rank(search_vector, query) AS rank "
            f"FROM {s.table}, {_PG_QUERY} AS query WHERE search_vector @@ query")


def _pg_newest(s: Source) -> str:
    return (f"SELECT * FROM (SELECT '{s.kind}' AS kind, id, created_at AS at FROM {s.table} "
            f"WHERE search_vector @@ {_PG_QUERY} ORDER BY id DESC LIMIT :n) AS newest_{s.table}")


@dataclass(frozen=True)
class Results:
    query: str
    total: int  # at most RANK_LIMIT
    page: int
    per_page: int
    hits: list[Hit]
    broad: bool = False  # more than RANK_LIMIT matches: newest first, not ranked

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def search(query: str | None, *, page: int = 1, per_page: int = 20, kinds=KINDS) -> Results:
    """Ranked hits for `query` across `kinds`, best first (newest first past RANK_LIMIT); any text is a valid query."""
    q = clean(query)
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    bound = fts5_query(q) if sqlite else q
    sources = [s for s in SOURCES if s.kind in kinds]
    page = max(1, min(page, RANK_LIMIT // per_page + 1))
    if not bound or not sources:
        return Results(q, 0, page, per_page, [])
    match, ranked, newest = (_sqlite_match, _sqlite_ranked, _sqlite_newest) if sqlite else \
        (_pg_match, _pg_ranked, _pg_newest)
    matches = " UNION ALL ".join(match(s) for s in sources)
    found = db.session.execute(text(f"SELECT count(*) FROM ({matches} LIMIT :cap) AS matches"),
                               {"q": bound, "cap": RANK_LIMIT + 1}).scalar_one()
    page_of = {"q": bound, "limit": per_page, "offset": (page - 1) * per_page}
    if found > RANK_LIMIT:
        union = " UNION ALL ".join(newest(s) for s in sources)
        rows = db.session.execute(
            text(f"SELECT kind, id, 0 AS rank FROM ({union}) AS hits ORDER BY at DESC, id DESC "
                 "LIMIT :limit OFFSET :offset"), {**page_of, "n": page * per_page}).all()
    else:
        union = " UNION ALL ".join(ranked(s) for s in sources)
        rows = db.session.execute(
            text(f"SELECT kind, id, rank FROM ({union}) AS hits ORDER BY rank DESC, kind, id DESC "
                 "LIMIT :limit OFFSET :offset"), page_of).all()
    return Results(q, min(found, RANK_LIMIT), page, per_page, [Hit(k, i, float(r)) for k, i, r in rows],
                   broad=found > RANK_LIMIT)


def load(hits: list[Hit]) -> list[tuple[Hit, object]]:
    """Each hit with its row, in the hits' order (one query per kind)."""
    from models import Booking, Comment, Enquiry, Post

    models = {"enquiry": Enquiry, "booking": Booking, "post": Post, "comment": Comment}
    rows = {}
    for kind, model in models.items():
        ids = [h.id for h in hits if h.kind == kind]
        if ids:
            rows.update({(kind, r.id): r for r in db.session.scalars(db.select(model).where(model.id.in_(ids)))})
    return [(h, rows[(h.kind, h.id)]) for h in hits if (h.kind, h.id) in rows]


def best_excerpt(texts, marks: list[str]) -> list[tuple[str, bool]]:
    """The excerpt of the first of `texts` that has a mark in it, else of the first that has anything."""
    pieces = [excerpt(t, marks) for t in texts]
    return next((p for p in pieces if any(is_mark for _, is_mark in p)), next((p for p in pieces if p), []))


def excerpt(body: str | None, marks: list[str], width: int = 180) -> list[tuple[str, bool]]:
    """A window of `body` around the first of `marks` found, as (text, is_a_mark) pieces for the template."""
    body = " ".join((body or "").split())
    if not body:
        return []
    pattern = re.compile("|".join(re.escape(m) for m in sorted(set(marks), key=len, reverse=True)), re.I) \
        if marks else None
    first = pattern.search(body) if pattern else None
    start = max(0, first.start() - width // 3) if first else 0
    window = body[start:start + width]
    if start:
        window = "…" + window.split(" ", 1)[-1] if " " in window else "…" + window
    if start + width < len(body):
        window += "…"
    if not pattern:
        return [(window, False)]
    pieces, at = [], 0
    for m in pattern.finditer(window):
        if m.start() > at:
            pieces.append((window[at:m.start()], False))
        pieces.append((m.group(0), True))
        at = m.end()
    if at < len(window):
        pieces.append((window[at:], False))
    return pieces
