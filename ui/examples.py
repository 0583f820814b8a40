"""Example questions shown under the chat when the bundled demo corpus is loaded."""

from __future__ import annotations

# An article of the demo corpus: when the index holds it, the demo questions apply.
DEMO_ARTICLE_ID = "ibm-exits-facial-recognition"

DEMO_QUESTIONS = [
    "Why did IBM stop offering facial recognition software?",
    "For how long is Amazon stopping police from using Rekognition?",
    "What has to exist before Microsoft will sell face recognition to police?",
    "How many members of Congress did Amazon's software wrongly match to mugshots?",
    "Which cities have banned government use of facial recognition?",
]
