"""PostgreSQL full text: a table `repo_search` with a generated tsvector and a GIN index on it, and beside it
`repo_rank`, a word signature per repository keyed by rank (haven.search.rank) for searches sorted by downloads.

GIN cannot give matches in an order: a page of a common word sorted by downloads used to visit the table
for every GIN candidate, or walk the downloads index probing `repo_search` per row (about 13 us a row at
1M repositories). `repo_rank (rank PRIMARY KEY, repo_id, sig)` is narrow (about 170 bytes a row, written in
rank order): a walk in key order reads consecutive pages and tests each row's 1,024-bit signature (two bits
per word), reading the document from `repo_search` only where it passes; a page walks a bounded window of it,
and a rarer query goes to the GIN plans (haven.repos.listing). Until migration 0020 the rows held the
tsvectors themselves (about 1.2 KB, five rows a page). Triggers keep it in step: a document written to
`repo_search`, a row's downloads or type changing; a row deleted takes its rank row with it (foreign key).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Select, column, exists, func, select, table, text, true
from sqlalchemy.dialects.postgresql import TSVECTOR, insert
from sqlalchemy.orm import Session

from haven.repos.models import Repo
from haven.search.rank import Ranked, Stretch, decode, key_sql, span
from haven.search.text import PREFIX_MARK, alternatives

_T = table("repo_search", column("repo_id"), column("name"), column("body"), column("document", TSVECTOR))
# `simple`: lower-cased words, no stemming and no stop words, like the FTS5 side; the terms arrive
# already split (haven.search.text), so the document is the same set of words on either engine.
_SCHEMA = [
    "CREATE TABLE repo_search ("
    " repo_id INTEGER PRIMARY KEY REFERENCES repos(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '',"
    " document TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, name || ' ' || body)) STORED)",
    "CREATE INDEX ix_repo_search_document ON repo_search USING GIN (document)",
]
_KEY_NEW = key_sql("NEW.")
SIG_BITS = 1024  # bits of a document's word signature in repo_rank (see sig_test)
_BITS = [f"({{h}} & {SIG_BITS - 1})::integer", f"({{h}} >> 10 & {SIG_BITS - 1})::integer"]  # two bits per word
_RANK_SCHEMA = [
    # A word's hash: a name-word prefix token (0pmistral) and the whole word (mistral) share it, so the two
    # alternatives of a query term test the same bits. hashtextextended: the hash PostgreSQL keeps stable
    # across versions (hash partitions rely on it), so signatures written before an upgrade still hold.
    "CREATE FUNCTION repo_rank_hash(word TEXT) RETURNS BIGINT LANGUAGE sql IMMUTABLE PARALLEL SAFE AS"
    f" $$ SELECT hashtextextended(CASE WHEN starts_with(word, '{PREFIX_MARK}')"
    f" THEN substr(word, {len(PREFIX_MARK) + 1}) ELSE word END, 0) $$",
    f"CREATE FUNCTION repo_rank_sig(document TSVECTOR) RETURNS BIT({SIG_BITS}) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS"
    f" $$ SELECT coalesce(bit_or(" + " | ".join(f"(B'1'::bit({SIG_BITS}) >> {b.format(h='h')})" for b in _BITS) + "),"
    f" B'0'::bit({SIG_BITS})) FROM (SELECT repo_rank_hash(w) AS h FROM unnest(tsvector_to_array(document)) w) x $$",
    "CREATE TABLE repo_rank (rank BIGINT PRIMARY KEY,"
    " repo_id INTEGER NOT NULL UNIQUE REFERENCES repo_search(repo_id) ON DELETE CASCADE,"
    f" sig BIT({SIG_BITS}) NOT NULL)",
    "ALTER TABLE repo_rank ALTER COLUMN sig SET STORAGE PLAIN",  # never compressed: read for every row walked
    "CREATE FUNCTION repo_rank_document() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    f" INSERT INTO repo_rank (rank, repo_id, sig) SELECT {key_sql('r.')}, r.id, repo_rank_sig(NEW.document)"
    " FROM repos r WHERE r.id = NEW.repo_id"
    " ON CONFLICT (repo_id) DO UPDATE SET rank = EXCLUDED.rank, sig = EXCLUDED.sig; RETURN NULL; END $$",
    "CREATE TRIGGER repo_rank_document AFTER INSERT OR UPDATE ON repo_search"
    " FOR EACH ROW EXECUTE FUNCTION repo_rank_document()",
    "CREATE FUNCTION repo_rank_rekey() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    f" UPDATE repo_rank SET rank = {_KEY_NEW} WHERE repo_id = NEW.id; RETURN NULL; END $$",
    "CREATE TRIGGER repo_rank_rekey AFTER UPDATE OF downloads, type ON repos FOR EACH ROW"
    f" WHEN ({key_sql('OLD.')} IS DISTINCT FROM {_KEY_NEW}) EXECUTE FUNCTION repo_rank_rekey()",
]


def fill_rank(first_id: int = 0) -> str:
    """SQL writing the rank rows of repositories from `first_id` on in rank order (the migration, and
    bench/synthetic.py after a bulk load with the trigger off), so that a walk reads consecutive pages."""
    return (
        f"INSERT INTO repo_rank (rank, repo_id, sig) SELECT {key_sql('r.')}, s.repo_id, repo_rank_sig(s.document)"
        f" FROM repo_search s JOIN repos r ON r.id = s.repo_id WHERE s.repo_id >= {int(first_id)} ORDER BY 1"
    )


def sig_test(terms: list[str]) -> tuple[str, dict[str, str]]:
    """SQL true for every signature whose document may match all the terms (and for a few more), and its
    parameters: per term, the bits of one of its alternatives (a prefix term: no bits, it passes)."""
    groups: list[str] = []
    params: dict[str, str] = {}
    for term in terms:
        options, prefix = alternatives(term)
        if prefix:
            continue
        # Alternatives sharing a hash (repo_rank_hash strips the mark) are tested once.
        words = {o.removeprefix(PREFIX_MARK): o for o in reversed(options)}
        tests = []
        for word in words.values():
            name = f"b{len(params)}"
            params[name] = word
            tests.append(" AND ".join(f"get_bit(sig, {b.format(h=f'repo_rank_hash(:{name})')}) = 1" for b in _BITS))
        groups.append("(" + " OR ".join(f"({t})" for t in tests) + ")")
    return " AND ".join(groups) or "true", params


def ts_query(terms: list[str]) -> str:
    """`(0pbert | bert) & (a)` (tokens are alphanumeric: nothing in them is a tsquery operator); a term too
    long for the prefix tokens is a prefix query (`longerthantwelve:*`)."""
    groups = []
    for term in terms:
        options, prefix = alternatives(term)
        groups.append("(" + " | ".join(f"{o}:*" if prefix else o for o in options) + ")")
    return " & ".join(groups)


class PostgresIndex:
    ranked_walk = 16_000  # see SearchIndex
    held_ids_walk = True  # see SearchIndex

    def create_schema(self, conn: Connection) -> None:
        for stmt in _SCHEMA + _RANK_SCHEMA:
            conn.exec_driver_sql(stmt)

    def drop_schema(self, conn: Connection) -> None:
        self.unrank_schema(conn)
        conn.exec_driver_sql("DROP TABLE IF EXISTS repo_search")

    def rank_schema(self, conn: Connection) -> None:
        """Add `repo_rank` to an index created before migration 0019, or rebuild one laid out before 0020
        (tsvectors in place of signatures); newer ones have it from the start."""
        table = conn.exec_driver_sql("SELECT to_regclass('repo_rank')").scalar()
        signed = "SELECT 1 FROM pg_attribute WHERE attrelid = 'repo_rank'::regclass AND attname = 'sig'"
        if table is not None and conn.exec_driver_sql(signed).first() is not None:
            return
        self.unrank_schema(conn)
        for stmt in _RANK_SCHEMA:
            conn.exec_driver_sql(stmt)
        conn.exec_driver_sql(fill_rank())

    def unrank_schema(self, conn: Connection) -> None:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS repo_rank_rekey ON repos")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS repo_rank_rekey")
        conn.exec_driver_sql("DROP TABLE IF EXISTS repo_rank")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS repo_rank_document CASCADE")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS repo_rank_sig")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS repo_rank_hash")

    def ranked(self, session: Session, stretch: Stretch) -> Ranked | None:
        keys = span(session, stretch, None)  # the statement below checks for unranked rows itself
        if keys is None:
            return None
        # Two scans of the window's keys, no row numbers (row_number() cost 2.3 ms per 9,000 rows at 1M): `e`,
        # the window's last row (where the walk stops unless `h` fills first; then `e` is never read), and `h`,
        # the matches among the window's rows, `limit` at most. A row's signature is checked first (narrow rows,
        # about 45 to a page); its document, from repo_search, only where the signature passes (the matches and
        # about 1 in 70 other rows for one word). The last row: where the window ended, and how many rows the
        # walk read (`w`, or a count up to the last match when `h` filled, or to the end of the index). Every
        # part is bounded by `w`, and the document check is a join rather than a subquery, which the planner
        # charges for every row: the estimated cost stays near 1,000 (80,000 for 9,353 rows with a subquery),
        # far below jit_above_cost (100,000), past which JIT would compile the statement (10-50 ms). A last
        # row (kind 2) says some row has no key (haven.search.rank): then the walk's answer is not used. Asked
        # here rather than before the walk, it costs no round trip of its own (1-2 ms on a loaded 2-core host).
        test, bits = sig_test(stretch.terms)
        rows = session.execute(
            text(
                "WITH e AS MATERIALIZED (SELECT rank FROM repo_rank WHERE rank BETWEEN :low AND :high"
                " ORDER BY rank OFFSET :skip LIMIT 1),"
                " h AS MATERIALIZED (SELECT r.rank FROM (SELECT rank, repo_id, sig FROM repo_rank WHERE rank BETWEEN"
                " :low AND :high ORDER BY rank LIMIT :w) r JOIN repo_search s ON s.repo_id = r.repo_id"
                f" AND s.document @@ to_tsquery('simple'::regconfig, :q) WHERE {test} ORDER BY r.rank LIMIT :n)"
                " SELECT rank, 0, 0 FROM h UNION ALL SELECT CASE WHEN (SELECT count(*) FROM h) < :n"
                " THEN (SELECT rank FROM e) END, CASE WHEN (SELECT count(*) FROM h)"
                " < :n AND (SELECT rank FROM e) IS NOT NULL THEN :w ELSE (SELECT count(*) FROM (SELECT FROM repo_rank"
                " WHERE rank BETWEEN :low AND CASE WHEN (SELECT count(*) FROM h) = :n THEN (SELECT max(rank) FROM h)"
                " ELSE :high END LIMIT :w) c) END, 1"
                f" UNION ALL SELECT NULL, NULL, 2 WHERE EXISTS ({_UNRANKED})"
            ),
            {"q": ts_query(stretch.terms), "low": keys[0], "high": keys[1], "w": stretch.window}
            | {"skip": max(stretch.window - 1, 0), "n": stretch.limit}
            | bits,
        ).all()
        if any(r[2] == 2 for r in rows):
            return None
        hits = sorted(r[0] for r in rows if r[2] == 0)
        end, examined = next((r[0], r[1]) for r in rows if r[2] == 1)
        found = [decode(k) for k in hits]
        if len(hits) >= stretch.limit:
            return Ranked(found, decode(hits[-1])[::-1], examined)
        if end is None:
            return Ranked(found, None, examined)  # the index ended inside the window
        return Ranked(found, decode(end)[::-1], examined)

    def put(self, session: Session, repo_id: int, name: list[str], body: list[str] | None) -> None:
        values = {"repo_id": repo_id, "name": " ".join(name)}
        if body is not None:
            values["body"] = " ".join(body)
        stmt = insert(_T).values(values)
        update = {"name": stmt.excluded.name} | ({"body": stmt.excluded.body} if body is not None else {})
        session.execute(stmt.on_conflict_do_update(index_elements=["repo_id"], set_=update))

    def remove(self, session: Session, repo_id: int) -> None:
        session.execute(text("DELETE FROM repo_search WHERE repo_id = :id"), {"id": repo_id})

    def matches(self, terms: list[str]) -> ColumnElement[bool]:
        if not terms:
            return true()
        return exists().where(_T.c.repo_id == Repo.id, _match(terms))

    def filter_ids(self, session: Session, terms: list[str], ids: list[int]) -> set[int]:
        if not terms:
            return set(ids)
        return set(session.scalars(select(_T.c.repo_id).where(_T.c.repo_id.in_(ids), _match(terms))))

    def candidates(self, terms: list[str]) -> Select[tuple[int]]:
        if not terms:
            return select(Repo.id)
        return select(_T.c.repo_id).where(_match(terms))


_UNRANKED = "SELECT 1 FROM repo_rank WHERE rank < 0 LIMIT 1"  # a row without a key: see haven.search.rank


def _match(terms: list[str]) -> ColumnElement[bool]:
    return _T.c.document.op("@@")(func.to_tsquery(text("'simple'::regconfig"), ts_query(terms)))
