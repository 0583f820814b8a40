"""Web UI (Gradio) over the Assistant API: `assistant serve`.

Gradio's usage analytics are switched off before it is imported: the app is meant to run offline."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
