"""articles → clean text → sentence-aware chunks → vectors → the stored index."""

from index.articles import Article, Chunk, Problem, Sentence
from index.backends import open_store
from index.chunk import ChunkSettings
from index.filters import Filters
from index.ingest import IngestReport, build_index, ingest_into, open_for_writing, remove_articles
from index.manifest import IndexMismatch, Manifest
from index.store import EmbeddedSnapshot, EmbeddedStore, IndexNotFound, Snapshot, Store, StoredChunk

__all__ = [
    "Article", "Chunk", "ChunkSettings", "EmbeddedSnapshot", "EmbeddedStore", "Filters", "IndexMismatch",
    "IndexNotFound", "IngestReport", "Manifest", "Problem", "Sentence", "Snapshot", "Store", "StoredChunk",
    "build_index", "ingest_into", "open_for_writing", "open_store", "remove_articles",
]
