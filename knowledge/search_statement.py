"""The search statement `knowledge_search` runs: one SQL statement that scans the HNSW index for the
question's vector (and, for the product reading, a second vector), the GIN index for its words,
and scores every candidate exactly, executed as a server-side prepared statement.

Split out of knowledge/selectors.py, which builds the parameters and ranks the rows.
"""

from __future__ import annotations

import psycopg
from django.db import connection, transaction

from knowledge.models import Article, Chunk

CHUNK_TABLE = Chunk._meta.db_table
ARTICLE_TABLE = Article._meta.db_table
# Only published articles have chunks (article_save deletes them on unpublish, in the same
# transaction), so filtering the chunk row is enough, and it lets the HNSW index drive the scan.
CHUNK_FILTER = (
    "c.audience = ANY(%(audiences)s) AND c.embedding_model = %(model)s AND NOT c.looks_like_instructions "
    "AND (c.kind = 'section' OR (c.kind = 'question' AND %(use_questions)s) OR (c.kind = 'title' AND %(use_titles)s))"
)
SEARCH_SQL = """
WITH q AS (
    SELECT %(vector)s::vector AS v{reading_column}, NULLIF(({tsquery})::text, '')::tsquery AS t,
           tsvector_to_array(to_tsvector('english', %(text0)s)) AS words,
           tsvector_to_array(to_tsvector('english', %(synonyms)s)) AS synonym_words,
           tsvector_to_array(to_tsvector('english', %(used_terms)s)) AS used_words
), dense AS (
    -- The vector is a literal parameter here, not q.v: pgvector's index only serves an ORDER BY
    -- against a constant (a value from a joined CTE makes Postgres sort every row exactly).
    SELECT c.id, c.article_id, c.kind FROM {chunk} c
    WHERE {filter}
    ORDER BY c.embedding <=> %(vector)s::vector
    LIMIT {candidates}
){reading_scan}, lexical_matches AS (
    -- Ranking every match costs O(matches) (a common word matches most chunks), so rank a
    -- bounded sample; dense candidates get their exact text score below either way.
    SELECT c.id, c.article_id, c.kind, c.search_vector FROM {chunk} c, q
    WHERE {filter} AND q.t IS NOT NULL AND c.search_vector @@ q.t
    LIMIT {text_scan}
), lexical AS (
    SELECT m.id, m.article_id, m.kind FROM lexical_matches m, q
    ORDER BY ts_rank_cd(m.search_vector, q.t, 32) DESC
    LIMIT {candidates}
), found AS (
    SELECT * FROM dense WHERE %(use_dense)s{reading_union} UNION SELECT * FROM lexical WHERE %(use_text)s
), question_sections AS (
    -- An alternative question that matched brings its article's sections along: they are what
    -- gets cited.
    SELECT s.id FROM {chunk} s
    WHERE s.kind = 'section' AND s.audience = ANY(%(audiences)s) AND s.embedding_model = %(model)s
      AND NOT s.looks_like_instructions
      AND s.article_id IN (SELECT article_id FROM found WHERE kind IN ('question', 'title'))
), candidates AS (
    SELECT id FROM found UNION SELECT id FROM question_sections
)
SELECT c.id, a.id, a.title, a.slug, a.source_url, c.audience, c.heading_path, c.anchor, c.text, c.kind,
       {dense_score} AS dense_score,
       COALESCE(ts_rank_cd(c.search_vector, q.t, 32), 0) AS text_score,
       -- title (A) and headings (B) only: the field rerank's signal
       COALESCE(ts_rank('{{0, 0, 0.4, 1}}', c.search_vector, q.t, 32), 0) AS field_score,
       -- which of the question's words this chunk holds (the coverage signal of confidence)
       ARRAY(SELECT w FROM unnest(q.words) w WHERE c.search_vector @@ quote_literal(w)::tsquery) AS matched_words,
       EXISTS(SELECT 1 FROM unnest(q.synonym_words) w WHERE c.search_vector @@ quote_literal(w)::tsquery) AS matched_synonym,
       q.words, q.used_words, a.language
FROM candidates JOIN {chunk} c ON c.id = candidates.id JOIN {article} a ON a.id = c.article_id, q
WHERE a.status = 'published'
"""
# The product reading (knowledge/products.py): a second HNSW scan with the vector of the question
# without its product words, in the same statement, and each chunk's similarity the better of the
# two. One round trip and one full-text scan, where a second search would repeat both.
READING_SQL = {
    "reading_column": ", %(reading)s::vector AS r",
    "reading_scan": """, dense_reading AS (
    SELECT c.id, c.article_id, c.kind FROM {chunk} c
    WHERE {filter}
    ORDER BY c.embedding <=> %(reading)s::vector
    LIMIT {candidates}
)""",
    "reading_union": " UNION SELECT * FROM dense_reading WHERE %(use_dense)s",
    "dense_score": "GREATEST(1 - (c.embedding <=> q.v), 1 - (c.embedding <=> q.r))",
}
NO_READING_SQL = {
    "reading_column": "",
    "reading_scan": "",
    "reading_union": "",
    "dense_score": "1 - (c.embedding <=> q.v)",
}


# HNSW filters (audience, model, kind) after its scan: it looks at this many neighbours so that
# filtered-out chunks do not starve the 40 candidates. Lower values were measured and lost
# (docs/performance.md, "HNSW ef_search and prepared statements").
HNSW_EF_SEARCH = 100


def search_rows(sql: str, params: dict) -> list[tuple]:
    """Run the search as a server-side prepared statement on this connection (a plain psycopg
    cursor: Django's cursors bind parameters client-side and so are parsed and planned on every
    call). Measured at 100k chunks: p50 0.89-0.92x, p95 0.85-0.90x the client-bound query's
    (docs/performance.md). The text varies only with the glossary groups a question uses, the
    any-word option, k and whether there is a product reading, so a connection holds a handful of
    these statements (psycopg keeps at most its `prepared_max` per connection)."""
    with transaction.atomic(), connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        # set_config(..., true) is SET LOCAL as a function: it takes a parameter, and a prepared
        # statement can not carry a second statement the way the simple query protocol could.
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(HNSW_EF_SEARCH)])
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall()
