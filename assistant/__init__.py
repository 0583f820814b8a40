"""question → passages → cited answer: the engine, its Python API and CLI."""
