"""The dp paper's protocols, per table (see protocols.py). To be written from the paper and the authors' code."""
from protocols import Cite, TableProtocol  # noqa: F401

PROTOCOLS = {}
METHOD_KEYS = {}
