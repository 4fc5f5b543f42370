"""Retrieval benchmark (not a test): hybrid selector vs plain pgvector top-k, HNSW recall, and
ingestion throughput vs raw model.encode, on the real stack.

Synthetic corpora of 10k and 100k chunks (384-d unit vectors with a cluster structure, random
English-like text; one chunk in ten is an alternative question) are loaded with COPY and indexed
(HNSW cosine + GIN) in a database of their own (.data/bench-retrieval), with a glossary of 20
synonym groups over common words. For each size, in the same run:
  * p50/p95 latency of knowledge_search with every lever on (alternative questions, glossary,
    any-word full text with rank fusion, field rerank, coverage; customer audience; question
    already embedded), the same for a question naming a product (the product reading's second
    HNSW scan, its vector given), of the retrieval before the levers, and of a bare
    `ORDER BY embedding <=> q LIMIT 10` on the chunk table;
  * HNSW recall@10 of the bare query against exact search;
  * the search as it ran before its statement was prepared (client-side binding, planned per
    call), timed in the same loop;
  * per hnsw.ef_search value (--ef-search): the search's p50/p95, the overlap of the dense
    candidates (the HNSW top-40 after the audience filter) with the exact top-40 per filter, and
    the share of questions whose final top-10 is the same as at ef_search 100;
then ingestion: article_index over real-text articles vs model.encode of the same chunk texts.

    .venv/bin/python benchmarks/retrieval.py [--sizes 10000 100000] [--queries 200] [--ef-search 40 60 100]
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A Zipf-distributed vocabulary: like real text, a few words are everywhere and most are rare,
# which is what decides how many rows a full-text query matches.
VOCABULARY = [f"term{n}" for n in range(20_000)]
_CUMULATIVE = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(VOCABULARY))))


def words(k: int) -> list[str]:
    return random.choices(VOCABULARY, cum_weights=_CUMULATIVE, k=k)  # cumulative: not re-summed per call


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def unit(vector):
    import numpy as np

    return vector / np.linalg.norm(vector, axis=-1, keepdims=True)


def load_corpus(size: int, rng, np, model_name: str) -> None:
    from django.db import connection

    from knowledge.models import Article, Chunk, GlossaryEntry

    Chunk.objects.all().delete()
    Article.objects.all().delete()
    GlossaryEntry.objects.all().delete()
    # synonym groups over common words, so that most questions get expanded
    GlossaryEntry.objects.bulk_create(
        GlossaryEntry(terms=[f"term{n}", f"term{n + 20}", f"term{n + 40}"]) for n in range(20)
    )
    per_article = 10
    articles = Article.objects.bulk_create(
        Article(
            title=f"Synthetic article {n}",
            slug=f"synthetic-{n}",
            body="-",
            status="published",
            audience="internal" if n % 10 == 0 else "public",
            index_state="indexed",
        )
        for n in range(size // per_article)
    )
    centers = unit(rng.standard_normal((200, 384)).astype("float32"))
    noise = rng.standard_normal((size, 384)).astype("float32") / np.sqrt(384)
    vectors = unit(centers[rng.integers(0, 200, size)] + 0.8 * noise)
    buffer = io.StringIO()
    for i in range(size):
        is_question = i % per_article == per_article - 1
        text = " ".join(words(8 if is_question else 40))
        vector = "[" + ",".join(f"{x:.5f}" for x in vectors[i]) + "]"
        article = articles[i // per_article]
        kind = "question" if is_question else "section"
        buffer.write(
            f"{article.pk}\t{i % per_article}\t{kind}\t\t\t{text}\t40\t{vector}\t{model_name}\t{article.audience}\t\\N\tf\tnow\n"
        )
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS chunk_embedding_hnsw")
        cursor.execute("DROP INDEX IF EXISTS chunk_search_vector_gin")
        cursor.execute("ALTER TABLE knowledge_chunk ALTER COLUMN search_vector DROP NOT NULL")
        with cursor.connection.cursor().copy(
            "COPY knowledge_chunk (article_id, ordinal, kind, heading_path, anchor, text, token_count, embedding, "
            "embedding_model, audience, search_vector, looks_like_instructions, created_at) FROM STDIN"
        ) as copy:
            copy.write(buffer.getvalue())
        cursor.execute("UPDATE knowledge_chunk SET search_vector = to_tsvector('english', text)")
        cursor.execute("ALTER TABLE knowledge_chunk ALTER COLUMN search_vector SET NOT NULL")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        started = time.perf_counter()
        cursor.execute(
            "CREATE INDEX chunk_embedding_hnsw ON knowledge_chunk USING hnsw (embedding vector_cosine_ops) "
            "WITH (m = 16, ef_construction = 64)"
        )
        hnsw_seconds = time.perf_counter() - started
        cursor.execute("CREATE INDEX chunk_search_vector_gin ON knowledge_chunk USING gin (search_vector)")
        cursor.execute("ANALYZE knowledge_chunk")
    return hnsw_seconds


def client_bound_rows(sql: str, params: dict) -> list[tuple]:
    """How knowledge_search ran its query before it was prepared: Django's cursor binds the
    parameters into the text, and SET LOCAL travels with it in one simple-protocol round trip."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = 100;{sql}", params)
        cursor.nextset()
        return cursor.fetchall()


# The dense scan's filters, as knowledge_search applies them: audience (anonymous drops the
# internal tenth of the corpus after the HNSW scan, agent nothing) and, with alternative
# questions off, the question chunks (another tenth).
DENSE_FILTERS = {
    "anonymous": (["public"], True),
    "agent": (["public", "verified_customers", "internal"], True),
    "anonymous_sections_only": (["public"], False),
}


def dense_candidates(vector: list[float], *, audiences: list[str], questions: bool, ef_search: int | None) -> list[int]:
    """The dense CTE's 40 candidates; ef_search None is the exact top-40 (sequential scan)."""
    from django.db import connection, transaction

    from knowledge.search_statement import CHUNK_FILTER as _FILTER
    from supportbot.llm.embeddings import get_embedder

    params: dict[str, str | bool | list[str]] = {
        "audiences": audiences,
        "model": get_embedder().model_name,
        "use_questions": questions,
        "use_titles": False,  # title rows: an option, off (RetrievalOptions.titles)
        "vector": str(vector),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        if ef_search is None:
            cursor.execute("SET LOCAL enable_indexscan = off")
        else:
            cursor.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
        cursor.execute(
            f"SELECT c.id FROM knowledge_chunk c WHERE {_FILTER} ORDER BY c.embedding <=> %(vector)s::vector LIMIT 40",
            params,
        )
        return [row[0] for row in cursor.fetchall()]


def bench_size(size: int, queries: int, np, rng, ef_values: list[int] | None = None, reuse: bool = False) -> dict:
    from unittest import mock

    from django.db import connection

    from knowledge import query_text, search_statement, selectors
    from knowledge.retrieval_options import BASELINE
    from knowledge.selectors import knowledge_search
    from supportbot.llm.embeddings import get_embedder

    model_name = get_embedder().model_name
    from knowledge.models import Chunk

    if reuse and Chunk.objects.count() == size:  # the corpus a previous run loaded (its questions differ)
        hnsw_seconds = float("nan")
    else:
        hnsw_seconds = load_corpus(size, rng, np, model_name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT embedding FROM knowledge_chunk ORDER BY random() LIMIT %s", [queries])
        seeds = [
            np.array(json.loads(row[0]) if isinstance(row[0], str) else row[0], dtype="float32")
            for row in cursor.fetchall()
        ]
    query_vectors = [unit(s + 0.5 * rng.standard_normal(384).astype("float32") / np.sqrt(384)).tolist() for s in seeds]
    questions = [" ".join(words(8)) for _ in query_vectors]
    # The product reading (a question naming one of the shop's products) adds a second HNSW scan
    # to the statement: its vector is another point near the same cluster, as the question
    # without its product noun is near the question.
    reading_vectors = [
        unit(np.array(v) + 0.5 * rng.standard_normal(384).astype("float32") / np.sqrt(384)).tolist()
        for v in query_vectors
    ]

    def bare(vector, _question):
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM knowledge_chunk ORDER BY embedding <=> %s::vector LIMIT 10", [str(vector)])
            return [row[0] for row in cursor.fetchall()]

    def hybrid(vector, question):
        # every lever on, and the glossary and threshold read from the database as the bot does
        return knowledge_search(question=question, audience="anonymous", k=5, query_vector=vector)

    def product_question(vector, question):
        # as `hybrid`, for a question holding a product word: the reading text is what the turn
        # embedded, its vector given as the turn gives it
        reading = reading_vectors[vector_index[id(vector)]]
        with mock.patch.object(query_text, "without_product_words", lambda text, terms: text):
            return knowledge_search(
                question=question, audience="anonymous", k=5, query_vector=vector, reading_vector=reading
            )

    vector_index = {id(v): n for n, v in enumerate(query_vectors)}

    def before(vector, question):
        return knowledge_search(question=question, audience="anonymous", k=5, query_vector=vector, options=BASELINE)

    def client_bound(vector, question):
        with mock.patch.object(selectors, "search_rows", client_bound_rows):
            return hybrid(vector, question)

    def at_ef(ef_search: int):
        def search(vector, question):
            with mock.patch.object(search_statement, "HNSW_EF_SEARCH", ef_search):
                return hybrid(vector, question)

        return search

    ef_values = sorted(set(ef_values or [])) or [search_statement.HNSW_EF_SEARCH]
    variants = {
        "hybrid": hybrid,
        "product_question": product_question,
        "before": before,
        "bare": bare,
        "client_bound": client_bound,
    }
    variants |= {f"ef{ef}": at_ef(ef) for ef in ef_values if ef != search_statement.HNSW_EF_SEARCH}
    for vector, question in list(zip(query_vectors, questions))[:10]:  # warm caches, prepare statements
        for fn in variants.values():
            fn(vector, question)
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    # Interleaved per question, in a rotating order: on a shared machine the load changes within
    # seconds, and a block of 200 questions per variant measured the load as much as the variant.
    for _ in range(2):
        for n, (vector, question) in enumerate(zip(query_vectors, questions)):
            for name in names[n % len(names) :] + names[: n % len(names)]:
                started = time.perf_counter()
                variants[name](vector, question)
                times[name].append((time.perf_counter() - started) * 1000)
    hybrid_ms, before_ms, bare_ms = times["hybrid"], times["before"], times["bare"]

    def p50_p95(values: list[float]) -> dict:
        return {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2)}

    # ef_search: what the dense candidates and the final top-10 lose against ef_search 100
    def top10(vector, question, ef_search: int) -> list[int]:
        with mock.patch.object(search_statement, "HNSW_EF_SEARCH", ef_search):
            found = knowledge_search(question=question, audience="anonymous", k=10, query_vector=vector)
        return [chunk.chunk_id for chunk in found.chunks]

    reference = [top10(v, q, search_statement.HNSW_EF_SEARCH) for v, q in zip(query_vectors, questions)]
    exact_top40 = {
        name: [dense_candidates(v, audiences=a, questions=qs, ef_search=None) for v in query_vectors]
        for name, (a, qs) in DENSE_FILTERS.items()
    }
    ef_search_result = []
    for ef in ef_values:
        overlap = {}
        for name, (audiences, use_questions) in DENSE_FILTERS.items():
            found = [
                dense_candidates(v, audiences=audiences, questions=use_questions, ef_search=ef) for v in query_vectors
            ]
            overlap[name] = {
                "overlap_at_40": round(
                    statistics.mean(len(set(f) & set(e)) / 40 for f, e in zip(found, exact_top40[name])), 4
                ),
                "min_candidates": min(len(f) for f in found),
            }
        same = [top10(v, q, ef) == ref for (v, q), ref in zip(zip(query_vectors, questions), reference)]
        name = "hybrid" if ef == search_statement.HNSW_EF_SEARCH else f"ef{ef}"
        ef_search_result.append(
            {
                "ef_search": ef,
                "hybrid_ms": p50_p95(times[name]),
                "dense_top40_vs_exact": overlap,
                "top10_same_as_ef_search_%d" % search_statement.HNSW_EF_SEARCH: round(statistics.mean(same), 4),
            }
        )

    recall = []
    for vector in query_vectors[:100]:
        with connection.cursor() as cursor:
            # what knowledge_search uses
            cursor.execute(f"BEGIN; SET LOCAL hnsw.ef_search = {search_statement.HNSW_EF_SEARCH}")
            cursor.execute("SELECT id FROM knowledge_chunk ORDER BY embedding <=> %s::vector LIMIT 10", [str(vector)])
            approximate = {row[0] for row in cursor.fetchall()}
            cursor.execute("COMMIT")
            cursor.execute("BEGIN; SET LOCAL enable_indexscan = off")
            cursor.execute("SELECT id FROM knowledge_chunk ORDER BY embedding <=> %s::vector LIMIT 10", [str(vector)])
            exact = {row[0] for row in cursor.fetchall()}
            cursor.execute("COMMIT")
        recall.append(len(approximate & exact) / 10)
    return {
        "chunks": size,
        "hnsw_build_s": round(hnsw_seconds, 1),
        "hybrid_ms": {"p50": round(percentile(hybrid_ms, 50), 2), "p95": round(percentile(hybrid_ms, 95), 2)},
        "hybrid_client_bound_ms": p50_p95(times["client_bound"]),
        "hybrid_product_question_ms": p50_p95(times["product_question"]),
        "before_levers_ms": {"p50": round(percentile(before_ms, 50), 2), "p95": round(percentile(before_ms, 95), 2)},
        "pgvector_top10_ms": {"p50": round(percentile(bare_ms, 50), 2), "p95": round(percentile(bare_ms, 95), 2)},
        "hnsw_recall_at_10": round(statistics.mean(recall), 4),
        "ef_search": ef_search_result,
    }


def bench_ingestion(articles: int) -> dict:
    from knowledge.chunking import chunk_markdown
    from knowledge.indexing import article_index, embedding_input
    from knowledge.models import Article, Chunk
    from supportbot.llm.embeddings import get_embedder

    Chunk.objects.all().delete()
    Article.objects.all().delete()
    bodies = []
    for n in range(articles):
        sections = []
        for s in range(3):
            sentences = [" ".join(words(12)).capitalize() + "." for _ in range(8)]
            sections.append(f"# Section {s}\n\n" + " ".join(sentences))
        bodies.append("\n\n".join(sections))
    created = Article.objects.bulk_create(
        Article(title=f"Article {n}", slug=f"ingest-{n}", body=body, status="published")
        for n, body in enumerate(bodies)
    )
    texts = [embedding_input(a.title, d) for a in created for d in chunk_markdown(a.body)]
    embedder = get_embedder()
    embedder.embed(texts[:64])  # load the model outside both timings
    started = time.perf_counter()
    embedder.embed(texts)
    raw_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for article in created:
        article_index(article_id=article.pk)
    ingest_seconds = time.perf_counter() - started
    return {
        "articles": articles,
        "chunks": len(texts),
        "raw_encode_chunks_per_s": round(len(texts) / raw_seconds, 1),
        "ingestion_chunks_per_s": round(len(texts) / ingest_seconds, 1),
        "ratio": round(raw_seconds / ingest_seconds, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ingest-articles", type=int, default=100)
    parser.add_argument(
        "--reuse-corpus", action="store_true", help="keep a corpus of the same size loaded by an earlier run"
    )
    parser.add_argument(
        "--ef-search", type=int, nargs="*", default=[40, 60, 80, 100], help="hnsw.ef_search values to compare"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "retrieval.json")
    args = parser.parse_args()

    os.environ.setdefault("SUPPORTBOT_DATA_DIR", str(ROOT / ".data" / "bench-retrieval"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportbot.settings.base")
    import django

    django.setup()
    import numpy as np
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    random.seed(7)
    rng = np.random.default_rng(7)
    result = {"benchmark": "retrieval", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sizes": []}
    for size in args.sizes:
        result["sizes"].append(bench_size(size, args.queries, np, rng, args.ef_search, args.reuse_corpus))
        print(json.dumps(result["sizes"][-1]), flush=True)
    if args.ingest_articles:  # 0 skips it
        result["ingestion"] = bench_ingestion(args.ingest_articles)
    result["targets"] = {"hybrid_p95_ms_at_100k": 30, "recall_at_10": 0.95, "ingestion_ratio": 0.8}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
