"""search in rank order reads word signatures (issue 5, sixth pass)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from alembic import op

from haven.search import index_for

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# PostgreSQL's repo_rank as 0019 laid it out (a tsvector per row), for the downgrade.
_KEY = (
    "(CASE WHEN {r}id >= 0 AND {r}id < 1073741824 AND {r}downloads >= 0 AND {r}downloads < 2147483648"
    " THEN (CASE {r}type WHEN 'model' THEN 0 WHEN 'dataset' THEN 2305843009213693952"
    " WHEN 'space' THEN 4611686018427387904 ELSE 6917529027641081856 END)"
    " + (2147483647 - CAST({r}downloads AS BIGINT)) * 1073741824 + 1073741823 - {r}id ELSE -{r}id END)"
)
_RANK_0019 = [
    "CREATE TABLE repo_rank (rank BIGINT PRIMARY KEY,"
    " repo_id INTEGER NOT NULL UNIQUE REFERENCES repo_search(repo_id) ON DELETE CASCADE, document TSVECTOR NOT NULL)",
    "CREATE FUNCTION repo_rank_document() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    f" INSERT INTO repo_rank (rank, repo_id, document) SELECT {_KEY.format(r='r.')}, r.id, NEW.document"
    " FROM repos r WHERE r.id = NEW.repo_id"
    " ON CONFLICT (repo_id) DO UPDATE SET rank = EXCLUDED.rank, document = EXCLUDED.document; RETURN NULL; END $$",
    "CREATE TRIGGER repo_rank_document AFTER INSERT OR UPDATE ON repo_search"
    " FOR EACH ROW EXECUTE FUNCTION repo_rank_document()",
    "CREATE FUNCTION repo_rank_rekey() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    f" UPDATE repo_rank SET rank = {_KEY.format(r='NEW.')} WHERE repo_id = NEW.id; RETURN NULL; END $$",
    "CREATE TRIGGER repo_rank_rekey AFTER UPDATE OF downloads, type ON repos FOR EACH ROW"
    f" WHEN ({_KEY.format(r='OLD.')} IS DISTINCT FROM {_KEY.format(r='NEW.')}) EXECUTE FUNCTION repo_rank_rekey()",
    f"INSERT INTO repo_rank (rank, repo_id, document) SELECT {_KEY.format(r='r.')}, s.repo_id, s.document"
    " FROM repo_search s JOIN repos r ON r.id = s.repo_id ORDER BY 1",
]


def upgrade() -> None:
    # PostgreSQL: repo_rank keeps a 1,024-bit word signature per repository instead of its tsvector (rows of
    # about 170 bytes instead of 1.2 KB), rebuilt in rank order; SQLite: nothing to do.
    bind = op.get_bind()
    index_for(bind.dialect.name).rank_schema(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        index_for("postgresql").unrank_schema(bind)
        for stmt in _RANK_0019:
            bind.exec_driver_sql(stmt)
