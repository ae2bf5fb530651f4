"""Dispatch, the last handler of the chain: sends the request to the matched route's upstream kind."""

from __future__ import annotations

from portico.edge.dispatch.dispatcher import Dispatcher

__all__ = ["Dispatcher"]
