"""question → passages → cited answer: the engine, its Python API and CLI.

The front door: `from assistant import Assistant, AskOptions, Filters`. Names load on first use, so
`assistant --help` stays instant."""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "Assistant": "assistant.engine",
    "AskSettings": "assistant.engine",
    "AskOptions": "assistant.options",
    "OptionError": "assistant.options",
    "Filters": "assistant.results",
    "Answer": "assistant.results",
    "AnswerSentence": "assistant.results",
    "CitedPassage": "assistant.results",
    "Passage": "assistant.results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
