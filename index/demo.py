"""The bundled demo corpus and where its index is cached (built on first use)."""

from __future__ import annotations

import os
from pathlib import Path

DEMO_CORPUS = Path(__file__).parent / "demo_corpus"


def cache_home() -> Path:
    """$ARTICLE_ASSISTANT_HOME, else $XDG_CACHE_HOME/article-assistant, else ~/.cache/article-assistant."""
    if os.environ.get("ARTICLE_ASSISTANT_HOME"):
        return Path(os.environ["ARTICLE_ASSISTANT_HOME"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "article-assistant"


def demo_files() -> list[str]:
    """The demo articles (the folder's README describes them and is not one)."""
    return sorted(str(p) for p in DEMO_CORPUS.glob("[0-9][0-9]-*.md"))


def demo_index_dir(model_name: str) -> Path:
    """One demo index per embedding model (and backend), so switching models never mixes vectors."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model_name)
    return cache_home() / f"demo-index-{safe}"
