"""Feedback that changes behaviour: storing outcomes, suppressing cards already addressed, the summary.

- ``config``: ``config/feedback.yaml`` (which override reasons suppress, for how many days);
- ``identity``: patients as keyed hashes (never an id in the store);
- ``policy``: the store-backed ``CardPolicy`` the pipeline calls on every hook call;
- ``intake``: feedback items -> idempotent stored outcomes;
- ``summary``: per card kind figures over a date range.
"""

from .config import FeedbackConfig, FeedbackConfigError, load_feedback_config
from .identity import PatientHasher, client_scope
from .intake import to_outcome
from .policy import StoreCardPolicy, card_kind

__all__ = [
    "FeedbackConfig",
    "FeedbackConfigError",
    "PatientHasher",
    "StoreCardPolicy",
    "card_kind",
    "client_scope",
    "load_feedback_config",
    "to_outcome",
]
