"""articles → clean text → sentence-aware chunks → vectors → the stored index."""

from index.articles import Article, Chunk, Problem, Sentence
from index.chunk import ChunkSettings
from index.ingest import IngestReport, build_index, ingest_into, open_store, remove_articles
from index.manifest import IndexMismatch, Manifest
from index.store import EmbeddedSnapshot, EmbeddedStore, IndexNotFound, StoredChunk

__all__ = [
    "Article", "Chunk", "ChunkSettings", "EmbeddedSnapshot", "EmbeddedStore", "IndexMismatch",
    "IndexNotFound", "IngestReport", "Manifest", "Problem", "Sentence", "StoredChunk",
    "build_index", "ingest_into", "open_store", "remove_articles",
]
